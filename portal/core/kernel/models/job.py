"""Long work done by the worker in batches (jobs), what failed in them, and the workers'
heartbeats."""

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.kernel import clock, subject_keys
from portal.core.kernel.crypto import Encrypted
from portal.core.kernel.models.base import UTCDateTime
from portal.extensions import db

# A held job waits for the admin to confirm it (an import checked but not started yet); the
# worker takes queued and running ones.
HELD, QUEUED, RUNNING, DONE, FAILED = "held", "queued", "running", "done", "failed"


class Job(db.Model):
    __tablename__ = "job"
    __table_args__ = (
        # What a worker claims: jobs not finished (few), never the long tail of done ones.
        Index(
            "ix_job_due",
            "id",
            postgresql_where=text("state IN ('queued', 'running')"),
            sqlite_where=text("state IN ('queued', 'running')"),
        ),
        # A form's one-time key: a double click, or a post sent again, finds the job it started.
        UniqueConstraint("group_id", "start_key", name="uq_job_start_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"), index=True)
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brand.id"))
    kind: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(200))  # the admin's label, or "cli"
    admin_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_account.id", ondelete="SET NULL")
    )
    # What the job works on (a policy version, a topic and mail text): JSON, no personal data.
    params: Mapped[str] = mapped_column(Text, default="{}")
    # A file the job reads (an import's CSV): personal data, so under a one-off key of its own,
    # dropped (with the file) once done or when its hold expires (``jobs``).
    payload: Mapped[str | None] = mapped_column(Encrypted, nullable=True)
    state: Mapped[str] = mapped_column(String(10), default=QUEUED)
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    # Where the next batch starts: the last key handled (a subject id, a line number).
    cursor: Mapped[str] = mapped_column(String(100), default="")
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(default=0)  # failed tries of the current batch
    last_error: Mapped[str | None] = mapped_column(Text)
    start_key: Mapped[str | None] = mapped_column(String(64))
    created_at = mapped_column(UTCDateTime, default=clock.now)
    finished_at = mapped_column(UTCDateTime, nullable=True)


class JobFailure(db.Model):
    """One item a job could not handle: a subject id or a line number, never an address."""

    __tablename__ = "job_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), index=True)
    item: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(300))
    created_at = mapped_column(UTCDateTime, default=clock.now)


class WorkerHeartbeat(db.Model):
    """One row per running worker, written on each pass of its loop."""

    __tablename__ = "worker_heartbeat"

    worker: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Which loop: "mail" (`flask outbox work`: mail and jobs) or "webhooks" (`flask webhooks
    # work`); the console's banner and `flask doctor` watch the mail workers.
    kind: Mapped[str] = mapped_column(String(20), default="mail", server_default="mail")
    host: Mapped[str] = mapped_column(String(200))
    started_at = mapped_column(UTCDateTime, default=clock.now)
    seen_at = mapped_column(UTCDateTime, default=clock.now, index=True)


subject_keys.one_off_columns(Job, ("payload",))
