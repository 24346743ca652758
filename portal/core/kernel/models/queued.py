"""The columns of a row that waits in a queue for a worker (mail, address requests, webhook
deliveries): `portal.core.kernel.leases` claims, retries and gives up on such rows."""

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.kernel import clock
from portal.core.kernel.models.base import UTCDateTime

QUEUED, FAILED = "queued", "failed"


def due_index(name: str) -> Index:
    """The index a worker's claim reads: only rows still waiting, by when they are due. Sent
    and failed rows (nearly all of a busy table) are left out, so it stays the size of the
    backlog however long the table grows."""
    waiting = text(f"status = '{QUEUED}'")
    return Index(name, "next_attempt_at", "id", postgresql_where=waiting, sqlite_where=waiting)


class QueuedWork:
    """Mixed into a model: its status, attempts, when it is next due and who holds it now."""

    status: Mapped[str] = mapped_column(String(10), default=QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at = mapped_column(UTCDateTime, default=clock.now)
    # A worker's lease: no other worker takes the row until it expires (a crash lets it go).
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text)
