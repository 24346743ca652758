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

On PostgreSQL both tables are partitioned by day (``kernel.partitions``) and ``rotate``, run
first, drops whole days instead: a day goes once all of it is past its retention time and
nothing of it is owed, at most ``DAYS_PER_RUN`` days of each table per run. Rows are then kept
until the end of their day past the retention time (so ``purge`` cuts at the start of a day
too): ``purge`` is left with the rows the default partition caught, the table as it was before
partitioning (``<table>_plegacy``) until its last day passes, and the days kept back because a
delivery was owed then.
"""

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, exists, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from portal.core.integrations.models.api import WebhookDelivery
from portal.core.integrations.models.event import Event, FeedStart
from portal.core.kernel import clock, partitions
from portal.core.kernel.models.group import SiteGroup
from portal.core.kernel.models.queued import QUEUED
from portal.core.kernel.transaction import commit_session
from portal.extensions import db


def purge(now=None, batch: int | None = None) -> tuple[int, int]:
    """Delete up to ``batch`` old events and ``batch`` old deliveries; (events, deliveries)."""
    now = now or clock.now()
    batch = batch or current_app.config["RETENTION_BATCH"]
    return _events(now, batch), _deliveries(now, batch)


def _cut(now, setting: str):
    """The moment before which rows go: on PostgreSQL the start of its day, so that rows are
    never deleted one by one from a day that ``rotate`` will drop whole."""
    cut = now - timedelta(days=current_app.config[setting])
    return partitions.day(cut) if _partitioned() else cut


def _partitioned() -> bool:
    return partitions.is_postgresql(db.session.get_bind())


def _deliveries(now, batch: int) -> int:
    cut = _cut(now, "WEBHOOK_DELIVERY_RETENTION_DAYS")
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
    cut = _cut(now, "EVENT_RETENTION_DAYS")
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


DAYS_PER_RUN = 7  # days of each table dropped by one run at most


@dataclass
class Rotation:
    made: int = 0  # partitions made ahead
    events: int = 0  # rows of the events' days dropped
    deliveries: int = 0  # rows of the deliveries' days dropped
    kept: int = 0  # days past their time kept back (something owed, or a lock not had)


def rotate(now=None, batch: int | None = None) -> Rotation:
    """PostgreSQL: make the days ahead and drop the days past retention, deliveries first (an
    event's deliveries never outlive it); nothing to do on SQLite."""
    done = Rotation()
    if not _partitioned():
        return done
    now = now or clock.now()
    batch = batch or current_app.config["RETENTION_BATCH"]
    done.made = partitions.make_ahead(now)  # every partitioned table's
    cut = _cut(now, "WEBHOOK_DELIVERY_RETENTION_DAYS")
    for name, *_ in _expired("webhook_delivery", cut):
        dropped = partitions.step(lambda connection, name=name: _drop_deliveries(connection, name))
        done.deliveries += dropped or 0
        done.kept += dropped is None
    cut = _cut(now, "EVENT_RETENTION_DAYS")
    for name, *bounds in _expired("event", cut):
        dropped = partitions.step(
            lambda connection, name=name, bounds=bounds: _drop_events(
                connection, name, bounds, now, batch
            )
        )
        done.events += dropped or 0
        done.kept += dropped is None
    return done


def _expired(table: str, cut) -> list[tuple]:
    names = partitions.expired(db.session.connection(), table, cut)[:DAYS_PER_RUN]
    db.session.rollback()
    return names


def _drop_deliveries(connection, name: str) -> int | None:
    if connection.scalar(text(f"SELECT 1 FROM {name} WHERE status = '{QUEUED}' LIMIT 1")):
        return None  # owed still: the day waits (``purge`` deletes the rest of it)
    count = connection.scalar(text(f"SELECT count(*) FROM {name}"))
    partitions.drop(connection, "webhook_delivery", name)
    return count


def _drop_events(connection, name: str, bounds, now, batch: int) -> int | None:
    """A day of events goes with its deliveries, which share its ``created_at`` (written in
    the same statement or with the same time, ``events.emit``): the deliveries' partition of
    the same day, kept longer, goes too; rows of theirs elsewhere (the default partition, the
    table from before partitioning) go ``batch`` at a time, the day in a run that finds none."""
    start, end = bounds
    span = "created_at < :end" + (" AND created_at >= :start" if start else "")
    when = {"end": end} | ({"start": start} if start else {})
    deliveries = f"SELECT id FROM webhook_delivery WHERE {span}"
    owed = text(f"{deliveries} AND status = '{QUEUED}' LIMIT 1")
    if connection.scalar(owed, when):
        return None
    for other, other_start, other_end in partitions.partitions(connection, "webhook_delivery"):
        if (other_start, other_end) == (start, end):
            partitions.drop(connection, "webhook_delivery", other)
    deleted = connection.execute(
        text(f"DELETE FROM webhook_delivery WHERE id IN ({deliveries} LIMIT :batch)"),
        when | {"batch": batch},
    ).rowcount
    if deleted == batch and connection.scalar(text(f"{deliveries} LIMIT 1"), when):
        return None
    for group_id in db.session.scalars(select(SiteGroup.id).order_by(SiteGroup.id)).all():
        last = connection.execute(
            text(
                f"SELECT xid, id FROM {name} WHERE group_id = :g ORDER BY xid DESC, id DESC LIMIT 1"
            ),
            {"g": group_id},
        ).first()
        if last is not None:
            _move_start(group_id, (last.xid, last.id), now)
    count = connection.scalar(text(f"SELECT count(*) FROM {name}"))
    partitions.drop(connection, "event", name)
    return count
