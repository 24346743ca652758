"""Claiming queued work (mail, webhook deliveries) so that two workers never take the same row.

A row is due when queued, its next attempt has come and no live lease holds it. Claiming
selects due rows (with SKIP LOCKED on PostgreSQL, so workers pass each other by), then leases
them with an UPDATE that checks the same conditions again: on SQLite, which has no SKIP
LOCKED, a row another worker leased meanwhile is simply not matched. A worker that dies
leaves a lease that expires, and the row is taken again.
"""

from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from portal.core import clock
from portal.extensions import db

QUEUED = "queued"


def due(model, now):
    return (
        model.status == QUEUED,
        model.next_attempt_at <= now,
        or_(model.lease_until.is_(None), model.lease_until < now),
    )


def claim(model, owner: str, limit: int) -> list[int]:
    """Lease up to ``limit`` due rows of ``model`` to ``owner``; returns their ids, in order.

    Commits, so the lease is visible to other workers before any slow work starts.
    """
    now = clock.now()
    query = select(model.id).where(*due(model, now)).order_by(model.id).limit(limit)
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(query))
    if ids:
        lease = now + timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"])
        db.session.execute(
            update(model)
            .where(model.id.in_(ids), *due(model, now))
            .values(lease_owner=owner, lease_until=lease)
        )
    db.session.commit()
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(model.id).where(model.id.in_(ids), model.lease_owner == owner).order_by(model.id)
        )
    )
