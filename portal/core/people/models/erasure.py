"""What is left after an erasure: a suppression entry and a disposal record, no personal data."""

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.kernel import clock
from portal.core.kernel.models.base import UTCDateTime
from portal.extensions import db


class Suppression(db.Model):
    """An erased address, by keyed hash only: it is never contacted again by mistake."""

    __tablename__ = "suppression"
    __table_args__ = (UniqueConstraint("group_id", "email_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"))
    email_hash: Mapped[str] = mapped_column(String(64))
    erasure_id: Mapped[str] = mapped_column(String(36))
    created_at = mapped_column(UTCDateTime, default=clock.now)


class ErasureRecord(db.Model):
    """The disposal log: who asked, when, and how many records of each kind went."""

    __tablename__ = "erasure_record"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"), index=True)
    subject_ref: Mapped[int] = mapped_column()  # the erased subject's former id, for the feed
    requested_by: Mapped[str] = mapped_column(String(80))  # subject, admin:<id>, api:<name>, rule
    reason: Mapped[str] = mapped_column(String(200), default="")
    erased_at = mapped_column(UTCDateTime, default=clock.now, index=True)  # a day's erasures
    counts: Mapped[dict] = mapped_column(JSON)
