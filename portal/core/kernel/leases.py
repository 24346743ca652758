"""Claiming queued work (mail, webhook deliveries) so that two workers never take the same row,
and retrying it with back-off when an attempt fails.

A row is due when queued, its next attempt has come and no live lease holds it. Claiming
selects due rows (with SKIP LOCKED on PostgreSQL, so workers pass each other by), then leases
them with an UPDATE that checks the same conditions again: on SQLite, which has no SKIP
LOCKED, a row another worker leased meanwhile is simply not matched. A worker that dies
leaves a lease that expires, and the row is taken again.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from portal.core.kernel import clock, partitions
from portal.core.kernel.models.queued import FAILED, QUEUED
from portal.extensions import db


def due(model, now):
    return (
        model.status == QUEUED,
        model.next_attempt_at <= now,
        or_(model.lease_until.is_(None), model.lease_until < now),
    )


def claim(model, owner: str, limit: int, *conditions) -> list:
    """Lease up to ``limit`` due rows of ``model`` to ``owner``; returns their keys in order
    (``partitions.key_of``: the id, and the creation time of a table partitioned by day, so
    that what the worker does next with a row reads only the row's own day).
    ``conditions``: more a row must meet to be taken now (webhooks: its turn in order).

    Commits, so the lease is visible to other workers before any slow work starts.
    """
    now = clock.now()
    key = partitions.key_of(model)
    query = select(*key).where(*due(model, now), *conditions).order_by(model.id).limit(limit)
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    keys = db.session.execute(query).all()
    if keys:
        lease = now + timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"])
        db.session.execute(
            update(model)
            .where(*partitions.named(model, keys), *due(model, now))
            .values(lease_owner=owner, lease_until=lease)
        )
    db.session.commit()
    if not keys:
        return []
    mine = partitions.named(model, keys)
    return db.session.execute(
        select(*key).where(*mine, model.lease_owner == owner).order_by(model.id)
    ).all()


def release(model, owner: str, keys: list | None = None) -> int:
    """Hand back rows of ``model`` that ``owner`` leased and did not start (``keys``, as
    ``claim`` gave them; None: all it holds), due again at once for any worker; commits.
    Returns how many."""
    query = update(model).where(model.lease_owner == owner, model.status == QUEUED)
    if keys is not None:
        query = query.where(*partitions.named(model, keys))
    count = db.session.execute(query.values(lease_owner=None, lease_until=None)).rowcount
    db.session.commit()
    return count


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at 6 hours between attempts."""
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 6 * 3600))


@dataclass
class Pass:
    """What one pass of a worker did with the rows it claimed."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    decided: int = 0  # address requests turned into what they call for (address_requests)

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.failed + self.decided

    def add(self, other: "Pass") -> None:
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.decided += other.decided

    def failed_attempt(self, attempts: int, error: str, now: datetime) -> dict:
        """Count a failed attempt; returns the row's new values: the lease given up, and the
        row due again after its back-off or, after OUTBOX_MAX_ATTEMPTS, kept as failed."""
        final = attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]
        if final:
            self.failed += 1
        else:
            self.retrying += 1
        return {
            "attempts": attempts,
            "last_error": error,
            "lease_owner": None,
            "lease_until": None,
            "next_attempt_at": now + backoff(attempts),
            "status": FAILED if final else QUEUED,
        }


def drain(one_pass: Callable[[int], Pass], batch: int) -> Pass:
    """Run ``one_pass`` batch after batch until a batch comes back short: all that is due now."""
    total = Pass()
    while True:
        one = one_pass(batch)
        total.add(one)
        if one.handled < batch:
            return total
