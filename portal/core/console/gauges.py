"""Figures for monitoring, computed once per interval by one worker, read by every scrape.

Counting a large outbox or the sign-up requests on every scrape, by every process of every app
server, would load the database in proportion to the number of servers. Instead a worker
claims the interval (a guarded UPDATE of the ``computed`` row: one claim per interval
whatever the number of workers) and writes the figures in the same transaction; ``/metrics``
reads them in one query and reports their age, so figures that stopped coming are seen.
"""

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from portal.core.consent.models import SignupRequest
from portal.core.console.models import Gauge
from portal.core.kernel import clock
from portal.core.kernel.models.job import QUEUED as JOB_QUEUED
from portal.core.kernel.models.job import RUNNING as JOB_RUNNING
from portal.core.kernel.models.job import Job
from portal.core.kernel.transaction import commit_session
from portal.core.mail.models import FAILED, QUEUED, OutboxMessage
from portal.extensions import db

COMPUTED = "computed"
# Name, help text; the oldest waiting message is kept as a time, its age taken when read.
FIGURES = {
    "portal_outbox_backlog": "Messages waiting to be sent",
    "portal_outbox_oldest_created": "When the oldest waiting message was queued (Unix time)",
    "portal_outbox_failed": "Messages that failed every attempt",
    "portal_jobs_waiting": "Jobs queued or running",
    "portal_signups": "Sign-up requests held",
    "portal_confirmations": "Sign-up requests confirmed",
}


def _compute() -> dict[str, float]:
    waiting, oldest = db.session.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(
            OutboxMessage.status == QUEUED
        )
    ).one()
    failed = db.session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == FAILED)
    )
    jobs = db.session.scalar(
        select(func.count()).select_from(Job).where(Job.state.in_((JOB_QUEUED, JOB_RUNNING)))
    )
    signups, confirmed = db.session.execute(
        select(func.count(), func.count(SignupRequest.confirmed_at))
    ).one()
    return {
        "portal_outbox_backlog": waiting,
        "portal_outbox_oldest_created": oldest.timestamp() if oldest else 0.0,
        "portal_outbox_failed": failed,
        "portal_jobs_waiting": jobs,
        "portal_signups": signups,
        "portal_confirmations": confirmed,
    }


def _claim(now, interval: timedelta) -> bool:
    """Take this interval's computation; False when another worker already has it."""
    claimed = db.session.execute(
        update(Gauge)
        .where(Gauge.name == COMPUTED, Gauge.computed_at <= now - interval)
        .values(computed_at=now)
    ).rowcount
    if claimed:
        return True
    if db.session.get(Gauge, COMPUTED) is not None:
        return False
    try:  # the very first computation: whoever inserts the row computes
        with db.session.begin_nested():
            db.session.add(Gauge(name=COMPUTED, value=0.0, computed_at=now))
    except IntegrityError:
        return False
    return True


def refresh_due(interval_seconds: float) -> bool:
    """Compute and store the figures if the last computation is ``interval_seconds`` old;
    True when this call did it. Commits."""
    now = clock.now()
    with commit_session():
        if not _claim(now, timedelta(seconds=interval_seconds)):
            return False
        for name, value in _compute().items():
            row = db.session.get(Gauge, name)
            if row is None:
                db.session.add(Gauge(name=name, value=float(value), computed_at=now))
            else:
                row.value, row.computed_at = float(value), now
    return True


def read() -> tuple[dict[str, float], float | None]:
    """The stored figures, and how many seconds ago they were computed (None: never)."""
    rows = {row.name: row for row in db.session.scalars(select(Gauge))}
    computed = rows.pop(COMPUTED, None)
    age = (clock.now() - computed.computed_at).total_seconds() if computed else None
    return {name: row.value for name, row in rows.items()}, age
