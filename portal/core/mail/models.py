"""Mail waiting to be sent, written in the same transaction as the change that causes it, and
the address requests (sign-up, magic link, ...) the worker decides on before sending."""

from sqlalchemy import ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.kernel import clock, partitions, subject_keys
from portal.core.kernel.crypto import Encrypted
from portal.core.kernel.models.base import UTCDateTime
from portal.core.kernel.models.queued import FAILED, QUEUED, QueuedWork, due_index
from portal.core.people import keys
from portal.extensions import db

SENT = "sent"
__all__ = ["FAILED", "QUEUED", "SENT", "AddressRequest", "OutboxMessage"]


class OutboxMessage(QueuedWork, db.Model):
    """A mail to send. On PostgreSQL partitioned by day of ``created_at``
    (``kernel.partitions``): OUTBOX_KEEP_DAYS drops whole days (``outbox.rotate``)."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        due_index("ix_outbox_due"),
        {"postgresql_partition_by": partitions.partition_by("outbox_message")},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"))
    # Erasure deletes every message addressed to the subject (GDPR Art. 17).
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    # The whole rendered message (recipient, headers, bodies) as encrypted JSON.
    content: Mapped[str] = mapped_column(Encrypted)
    created_at = mapped_column(UTCDateTime, default=clock.now, nullable=False)
    sent_at = mapped_column(UTCDateTime, nullable=True)
    # The last mail to an erased person: deleted once sent or finally failed, so nothing of
    # the address outlives its delivery.
    discard_when_done: Mapped[bool] = mapped_column(default=False, server_default=false())


class AddressRequest(QueuedWork, db.Model):
    """One request (sign-up, magic link, address change, ...) naming an address.

    Written by the request path whatever the address, so its answer and the work behind it are
    the same for known and unknown people; the worker reads it, acts and deletes it.
    """

    __tablename__ = "address_request"
    __table_args__ = (
        due_index("ix_address_request_due"),
        Index("ix_address_request_address", "group_id", "address_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for requests about the console's own accounts, which belong to no group.
    group_id: Mapped[int | None] = mapped_column(ForeignKey("site_group.id"))
    kind: Mapped[str] = mapped_column(String(40))
    # The keyed hash of the address the request names: erasure drops what is still waiting.
    address_hash: Mapped[str] = mapped_column(String(64))
    # A signed-in person who asked (an address change); erasure drops their requests too.
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id"), index=True)
    # The address and the details of the request, as encrypted JSON.
    content: Mapped[str] = mapped_column(Encrypted)
    created_at = mapped_column(UTCDateTime, default=clock.now)


# A mail to a person is theirs: under their own key. A mail to no subject row (the farewell
# mail after an erasure, console mails) and a request made before its person exists (a
# stranger's sign-up) go under a one-off key, dropped when the mail is delivered or the request
# decided (``outbox``, ``address_requests``).
subject_keys.personal_columns(OutboxMessage, ("content",), keys.by_subject_id)
subject_keys.personal_columns(AddressRequest, ("content",), keys.by_subject_id)
subject_keys.one_off_columns(OutboxMessage, ("content",), lambda row: row.subject_id)
subject_keys.one_off_columns(AddressRequest, ("content",), lambda row: row.subject_id)
