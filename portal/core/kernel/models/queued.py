"""The columns of a row that waits in a queue for a worker (mail, address requests, webhook
deliveries): `portal.core.kernel.leases` claims, retries and gives up on such rows."""

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.kernel import clock
from portal.core.kernel.models.base import UTCDateTime

QUEUED, FAILED = "queued", "failed"


class QueuedWork:
    """Mixed into a model: its status, attempts, when it is next due and who holds it now."""

    status: Mapped[str] = mapped_column(String(10), default=QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at = mapped_column(UTCDateTime, default=clock.now)
    # A worker's lease: no other worker takes the row until it expires (a crash lets it go).
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text)
