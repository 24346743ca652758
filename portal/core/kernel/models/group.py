"""A site group (one company), its brands, their topics and versioned consent texts."""

from sqlalchemy import (
    JSON,
    ForeignKey,
    LargeBinary,
    String,
    UniqueConstraint,
    exists,
    false,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from portal.core.kernel import clock
from portal.core.kernel.models.base import UTCDateTime
from portal.extensions import db


class SiteGroup(db.Model):
    __tablename__ = "site_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    default_language: Mapped[str] = mapped_column(String(8), default="en")
    # The languages the group's pages and texts offer, a subset of the installation's LANGUAGES.
    languages: Mapped[list] = mapped_column(
        JSON, default=lambda: ["en", "fr", "de"], server_default='["en", "fr", "de"]'
    )
    # The company's postal address: marketing mail must carry one (CAN-SPAM, and the EU's
    # e-commerce rules on identifying the sender); a brand without its own uses this one.
    postal_address: Mapped[str] = mapped_column(String(500), default="", server_default="")
    privacy_policy_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # Defaults offered to new brands: their sender addresses at this domain, this reply-to.
    sender_domain: Mapped[str] = mapped_column(String(253), default="", server_default="")
    reply_to: Mapped[str] = mapped_column(String(254), default="", server_default="")
    logo: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    logo_type: Mapped[str | None] = mapped_column(String(20))
    # Data minimisation (GDPR Art. 5(1)(c)): a date of birth is asked only where the group
    # has a use for it.
    collect_date_of_birth: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at = mapped_column(UTCDateTime, default=clock.now)

    brands: Mapped[list["Brand"]] = relationship(
        back_populates="group", order_by="Brand.position, Brand.id"
    )

    def active_brands(self) -> list["Brand"]:
        """The brands not archived, in order, with their topics: every page listing brands
        shows their topics, so they come in one query rather than one per brand."""
        return db.session.scalars(
            select(Brand)
            .where(Brand.group_id == self.id, Brand.archived_at.is_(None))
            .order_by(Brand.position, Brand.id)
            .options(selectinload(Brand.topics))
        ).all()

    def live_brands(self) -> list["Brand"]:
        """The active brands past their draft (see ``Brand.missing``), in one query: the ones
        the group's home page lists."""
        return db.session.scalars(
            select(Brand)
            .where(
                Brand.group_id == self.id,
                Brand.archived_at.is_(None),
                exists().where(Topic.brand_id == Brand.id),
                exists().where(ConsentText.brand_id == Brand.id),
            )
            .order_by(Brand.position, Brand.id)
            .options(selectinload(Brand.topics))
        ).all()


class Brand(db.Model):
    __tablename__ = "brand"
    __table_args__ = (UniqueConstraint("group_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"), index=True)
    slug: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    sender_name: Mapped[str] = mapped_column(String(120))
    sender_address: Mapped[str] = mapped_column(String(254))
    # Topic mails come from their own address, apart from confirmation and sign-in mails.
    news_sender_address: Mapped[str] = mapped_column(String(254), default="", server_default="")
    reply_to: Mapped[str] = mapped_column(String(254), default="", server_default="")
    privacy_policy_url: Mapped[str] = mapped_column(String(500))
    policy_version: Mapped[str] = mapped_column(String(40))
    colour: Mapped[str] = mapped_column(String(7), default="#222222")
    postal_address: Mapped[str] = mapped_column(String(500), default="")
    position: Mapped[int] = mapped_column(default=0)
    archived_at = mapped_column(UTCDateTime, nullable=True)
    # PNG or JPEG, checked on upload. Deferred: up to ADMIN_LOGO_MAX_BYTES that only the logo
    # route needs, not every page that loads a brand (pages test ``logo_type``).
    logo: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    logo_type: Mapped[str | None] = mapped_column(String(20))

    group: Mapped[SiteGroup] = relationship(back_populates="brands")
    topics: Mapped[list["Topic"]] = relationship(
        back_populates="brand", order_by="Topic.position, Topic.id"
    )

    def missing(self) -> list[str]:
        """What keeps the brand a draft: "topic" (none yet), "consent_text" (none yet). A
        draft has no public sign-up page: there would be nothing to agree to."""
        missing = [] if self.topics else ["topic"]
        has_text = db.session.scalar(select(ConsentText.id).where(ConsentText.brand_id == self.id))
        return missing + ([] if has_text else ["consent_text"])

    @property
    def postal_address_for_mail(self) -> str:
        """The address marketing mail carries: the brand's own, else the group's."""
        return (self.postal_address or "").strip() or (self.group.postal_address or "").strip()


class Topic(db.Model):
    """Something a person can subscribe to at one brand, on the channels it allows."""

    __tablename__ = "topic"
    __table_args__ = (UniqueConstraint("brand_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    names: Mapped[dict] = mapped_column(JSON)  # language -> name
    descriptions: Mapped[dict] = mapped_column(JSON)  # language -> description
    channels: Mapped[list] = mapped_column(JSON)  # subset of CHANNELS
    marketing: Mapped[bool] = mapped_column(default=True)
    # Data sent to partners: a Global Privacy Control signal opts the person out of it.
    shares_with_third_parties: Mapped[bool] = mapped_column(default=False, server_default=false())
    position: Mapped[int] = mapped_column(default=0)

    brand: Mapped[Brand] = relationship(back_populates="topics")

    def name(self, language: str) -> str:
        return in_language(self.names, language) or self.key

    def description(self, language: str) -> str:
        return in_language(self.descriptions, language)


def in_language(texts: dict, language: str) -> str:
    """The text in ``language``, else in English, else empty."""
    return texts.get(language) or texts.get("en") or ""


class ConsentText(db.Model):
    """One version of a brand's consent text. Never edited once shown: a change is a new row."""

    __tablename__ = "consent_text"
    __table_args__ = (UniqueConstraint("brand_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id"), index=True)
    version: Mapped[int] = mapped_column()
    texts: Mapped[dict] = mapped_column(JSON)  # language -> the exact text shown
    created_at = mapped_column(UTCDateTime, default=clock.now)

    def text(self, language: str) -> str:
        return self.texts.get(language) or self.texts["en"]
