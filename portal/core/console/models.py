"""Admin accounts of a site group, the brands given to them, and the append-only logs."""

from datetime import date

from sqlalchemy import JSON, Column, Date, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.kernel import clock, subject_keys
from portal.core.kernel.crypto import Encrypted
from portal.core.kernel.models.base import UTCDateTime
from portal.core.people import keys
from portal.extensions import db

OWNER, BRAND_ADMIN, VIEWER = "owner", "brand_admin", "viewer"
ROLES = (OWNER, BRAND_ADMIN, VIEWER)

admin_brand = Table(
    "admin_brand",
    db.metadata,
    Column("admin_id", ForeignKey("admin_account.id", ondelete="CASCADE"), primary_key=True),
    Column("brand_id", ForeignKey("brand.id", ondelete="CASCADE"), primary_key=True),
)


class AdminAccount(db.Model):
    """One person who runs the console of one site group.

    The address is personal data: stored encrypted, found by its keyed hash, unique in the
    installation so that a login needs nothing but address and password.
    """

    __tablename__ = "admin_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"), index=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(Encrypted)
    role: Mapped[str] = mapped_column(String(12))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # A pending invitation's nonce; the invitation link names it and works while it is set.
    invite_nonce: Mapped[str | None] = mapped_column(String(32))
    totp_secret: Mapped[str | None] = mapped_column(Encrypted)
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    totp_last_step: Mapped[int] = mapped_column(default=0)  # refuses a code used twice
    disabled_at = mapped_column(UTCDateTime, nullable=True)
    # Raised by a password reset or change: a session made before it no longer opens.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    # A pending password reset's nonce; the mailed link names it and works once, while set.
    reset_nonce: Mapped[str | None] = mapped_column(String(32))
    created_at = mapped_column(UTCDateTime, default=clock.now)
    invited_at = mapped_column(UTCDateTime, nullable=True)
    last_login_at = mapped_column(UTCDateTime, nullable=True)
    # The IANA zone the admin reads dates in; none: the browser's when known, else the portal's.
    time_zone: Mapped[str | None] = mapped_column(String(64))

    group = relationship("SiteGroup")
    brands = relationship("Brand", secondary=admin_brand, order_by="Brand.position, Brand.id")

    @property
    def label(self) -> str:
        """How logs name this admin: never the address (logs hold no personal data)."""
        return f"admin:{self.id}"


class RecoveryCode(db.Model):
    """One single-use two-factor recovery code, kept only as its argon2id hash."""

    __tablename__ = "admin_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(
        ForeignKey("admin_account.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(200))
    used_at = mapped_column(UTCDateTime, nullable=True)


class AuditEntry(db.Model):
    """One admin action: who, when, what, and for settings the values before and after.

    Append-only: the console has no path that edits or deletes a row, and the ORM refuses to.
    """

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"), index=True)
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("admin_account.id"))
    actor: Mapped[str] = mapped_column(String(80))
    at = mapped_column(UTCDateTime, default=clock.now, index=True)
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(80), default="")
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brand.id"))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)


class AccessEntry(db.Model):
    """One view of a person's data in the console, with the reason the admin gave."""

    __tablename__ = "access_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"), index=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admin_account.id"))
    at = mapped_column(UTCDateTime, default=clock.now, index=True)
    action: Mapped[str] = mapped_column(String(20))
    # No foreign key: the entry outlives an erased subject, naming only the old row id.
    subject_id: Mapped[int | None] = mapped_column()
    # Free text typed about the person ("letter from her son"): under the person's own key, so
    # it goes with them at erasure; who looked, when and how stays (accountability).
    reason: Mapped[str] = mapped_column(Encrypted)  # reads as None once the person is erased
    detail: Mapped[str | None] = mapped_column(Text)


class Gauge(db.Model):
    """One figure for monitoring (an outbox backlog, a count of sign-ups), computed by a worker
    once per METRICS_INTERVAL_SECONDS and read by every scrape of every app server. The row
    named ``computed`` holds no figure: its time says when they were last computed."""

    __tablename__ = "gauge"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[float] = mapped_column(default=0.0)
    computed_at = mapped_column(UTCDateTime, default=clock.now)


class DailyFigures(db.Model):
    """One brand's dashboard figures of one closed day (UTC), written by `flask lifecycle run`
    (``console.rollups``): recomputing a day writes the same row again. ``erasures`` counts
    every erasure of a person who had consents at the brand; ``erasures_once`` only those
    whose first such brand (lowest id) it is, so that a sum over all the group's brands counts
    each erasure once."""

    __tablename__ = "daily_figures"
    __table_args__ = (UniqueConstraint("brand_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    signups: Mapped[int] = mapped_column(default=0)
    confirmations: Mapped[int] = mapped_column(default=0)
    optouts: Mapped[int] = mapped_column(default=0)
    erasures: Mapped[int] = mapped_column(default=0)
    erasures_once: Mapped[int] = mapped_column(default=0)
    imports: Mapped[int] = mapped_column(default=0)
    computed_at = mapped_column(UTCDateTime, default=clock.now)


class FiguresBefore(db.Model):
    """One brand's all-time sign-up figures of the days before ``before`` (UTC; that day not
    included): sign-up requests made, and requests confirmed, by the day of each. `flask
    lifecycle run` carries it forward over the days no run counts again (``console.totals``);
    the dashboard adds the roll-ups of the days since and today's records."""

    __tablename__ = "figures_before"

    brand_id: Mapped[int] = mapped_column(
        ForeignKey("brand.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    before: Mapped[date] = mapped_column(Date)
    signups: Mapped[int] = mapped_column(default=0)
    confirmations: Mapped[int] = mapped_column(default=0)
    computed_at = mapped_column(UTCDateTime, default=clock.now)


subject_keys.personal_columns(AccessEntry, ("reason",), keys.by_subject_id)
