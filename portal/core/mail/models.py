"""Mail waiting to be sent, written in the same transaction as the change that causes it."""

from sqlalchemy import ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.kernel import clock
from portal.core.kernel.crypto import Encrypted
from portal.core.kernel.models.base import UTCDateTime
from portal.extensions import db

QUEUED, SENT, FAILED = "queued", "sent", "failed"


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"))
    # Erasure deletes every message addressed to the subject (GDPR Art. 17).
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    # The whole rendered message (recipient, headers, bodies) as encrypted JSON.
    content: Mapped[str] = mapped_column(Encrypted)
    status: Mapped[str] = mapped_column(String(10), default=QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at = mapped_column(UTCDateTime, default=clock.now)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(UTCDateTime, default=clock.now)
    sent_at = mapped_column(UTCDateTime, nullable=True)
    # The last mail to an erased person: deleted once sent or finally failed, so nothing of
    # the address outlives its delivery.
    discard_when_done: Mapped[bool] = mapped_column(default=False, server_default=false())
