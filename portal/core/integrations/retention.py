"""Events and webhook deliveries kept for a set time, so that their tables stay bounded.

``flask lifecycle run`` calls ``purge``: each call deletes at most ``batch`` deliveries and
``batch`` events (``RETENTION_BATCH``), in short transactions, oldest first; the next run takes
the next batch. A run every 5 minutes with the default 10,000 keeps up with about 33 events a
second; a busier installation raises it. What stays:

- a delivery still queued (waiting for its first attempt or a retry) and its event: the
  receiver is owed it, however old it is; both go once it is delivered or has failed;
- a finished delivery for ``WEBHOOK_DELIVERY_RETENTION_DAYS`` (its log line), and never longer
  than its event: it is deleted with it;
- an event for ``EVENT_RETENTION_DAYS``. Each group's ``FeedStart`` then moves to the last event
  deleted, so that a client whose cursor points before it, and may have missed events that
  are gone, is told to start again (``feed.CursorExpired``) instead of being handed a gap.
"""

from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, exists, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from portal.core.integrations.models.api import WebhookDelivery
from portal.core.integrations.models.event import Event, FeedStart
from portal.core.kernel import clock
from portal.core.kernel.models.group import SiteGroup
from portal.core.kernel.models.queued import QUEUED
from portal.core.kernel.transaction import commit_session
from portal.extensions import db


def purge(now=None, batch: int | None = None) -> tuple[int, int]:
    """Delete up to ``batch`` old events and ``batch`` old deliveries; (events, deliveries)."""
    now = now or clock.now()
    batch = batch or current_app.config["RETENTION_BATCH"]
    return _events(now, batch), _deliveries(now, batch)


def _deliveries(now, batch: int) -> int:
    cut = now - timedelta(days=current_app.config["WEBHOOK_DELIVERY_RETENTION_DAYS"])
    with commit_session():
        ids = list(
            db.session.scalars(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.created_at < cut, WebhookDelivery.status != QUEUED)
                .order_by(WebhookDelivery.created_at)
                .limit(batch)
            )
        )
        if ids:
            db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
    return len(ids)


def _owed():
    """A delivery of the event is still queued."""
    return exists().where(WebhookDelivery.event_id == Event.id, WebhookDelivery.status == QUEUED)


def _events(now, batch: int) -> int:
    """Group by group (the index of their creation times), oldest first, ``batch`` at most."""
    cut = now - timedelta(days=current_app.config["EVENT_RETENTION_DAYS"])
    deleted = 0
    for group_id in db.session.scalars(select(SiteGroup.id).order_by(SiteGroup.id)).all():
        while deleted < batch:
            with commit_session():
                rows = db.session.execute(
                    select(Event.id, Event.xid)
                    .where(Event.group_id == group_id, Event.created_at < cut, ~_owed())
                    .order_by(Event.created_at)
                    .limit(min(1_000, batch - deleted))
                ).all()
                if not rows:
                    break
                ids = [row.id for row in rows]
                db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(ids)))
                db.session.execute(delete(Event).where(Event.id.in_(ids)))
                _move_start(group_id, max((row.xid, row.id) for row in rows), now)
            deleted += len(rows)
    db.session.rollback()  # the read of the groups
    return deleted


def _move_start(group_id: int, last: tuple[int, int], now) -> None:
    """The group's feed now starts after ``last``, never moved back (two runs at once: the
    row is written by one statement, whichever comes second waits and compares)."""
    xid, event_id = last
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(FeedStart).values(
        group_id=group_id, xid=xid, event_id=event_id, moved_at=now
    )
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=["group_id"],
            set_={"xid": xid, "event_id": event_id, "moved_at": now},
            where=tuple_(FeedStart.xid, FeedStart.event_id) < tuple_(xid, event_id),
        )
    )
