"""Retention and freshness: one policy per site group, and a row per reminder sent."""

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.kernel import clock
from portal.core.kernel.models.base import UTCDateTime
from portal.extensions import db

# Rules, as named in ledger evidence, erasure records and `flask lifecycle run`.
UNCONFIRMED, REPERMISSION, LAPSE = "unconfirmed", "repermission", "lapse"
FRESHNESS, DORMANT, FORMER_CUSTOMER = "freshness", "dormant", "former_customer"
RULES = (UNCONFIRMED, LAPSE, REPERMISSION, FRESHNESS, DORMANT, FORMER_CUSTOMER)
OPEN_REPERMISSION = "rule = 'repermission' AND answered_at IS NULL AND lapsed_at IS NULL"

# A subject's relationship with the group, set by integrating systems.
CUSTOMER, FORMER, PROSPECT = "customer", "former_customer", "prospect"
RELATIONSHIPS = (CUSTOMER, FORMER, PROSPECT)


class LifecyclePolicy(db.Model):
    """How long a site group keeps what, and how often it asks people to confirm.

    A rule whose setting is empty (None) is off.
    """

    __tablename__ = "lifecycle_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"), unique=True)
    unconfirmed_days: Mapped[int | None] = mapped_column(default=30)
    dormant_months: Mapped[int | None] = mapped_column(default=24)
    repermission_months: Mapped[int | None] = mapped_column(default=18)
    repermission_answer_days: Mapped[int] = mapped_column(default=30)
    former_customer_months: Mapped[int | None] = mapped_column(default=12)
    # Profile field name -> months between confirmations, e.g. {"postal_address": 12}.
    reconfirm_months: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at = mapped_column(UTCDateTime, default=clock.now)
    updated_by: Mapped[str] = mapped_column(String(80), default="")


class LifecycleNotice(db.Model):
    """A reminder sent to a subject for one rule and one period: the unique key is what makes
    `flask lifecycle run` send it once, however often and on however many machines it runs."""

    __tablename__ = "lifecycle_notice"
    __table_args__ = (
        UniqueConstraint("subject_id", "rule", "period"),
        # The lapse rule: re-permission mails neither answered nor lapsed, by age.
        Index(
            "ix_lifecycle_notice_open_repermission",
            "sent_at",
            postgresql_where=text(OPEN_REPERMISSION),
            sqlite_where=text(OPEN_REPERMISSION),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    rule: Mapped[str] = mapped_column(String(20))
    period: Mapped[str] = mapped_column(String(40))
    fields: Mapped[list] = mapped_column(JSON, default=list)  # what a freshness mail listed
    sent_at = mapped_column(UTCDateTime, default=clock.now)
    answered_at = mapped_column(UTCDateTime, nullable=True)
    lapsed_at = mapped_column(UTCDateTime, nullable=True)


class LifecyclePreview(db.Model):
    """How many people each rule of a group would touch, as the worker last counted it
    (``previews``): the console shows this, never a count made in a request. ``counts`` maps
    rule name -> people (None: the rule was off); ``asked_at`` after ``computed_at`` (or no
    ``computed_at``) means a fresh count is queued."""

    __tablename__ = "lifecycle_preview"

    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"), primary_key=True)
    counts: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    computed_at = mapped_column(UTCDateTime, nullable=True)
    asked_at = mapped_column(UTCDateTime, nullable=True)
