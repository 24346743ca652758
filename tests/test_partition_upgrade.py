"""The upgrades that partition events, webhook deliveries and the outbox (PostgreSQL; on
SQLite only their keys change), on a populated database, and the downgrade: every row is kept
both ways, ids go on from the last one, and an old cursor's event is still found by its number.

The test's own database is taken back to the revision before and brought to the head again
(cheaper than migrating a fresh one from nothing)."""

from datetime import timedelta

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from portal.core.integrations import retention
from portal.core.integrations.models.api import WebhookDelivery, WebhookEndpoint
from portal.core.integrations.models.event import Event, FeedStart
from portal.core.kernel import clock, partitions
from portal.core.kernel.models.group import SiteGroup
from portal.core.mail import outbox
from portal.extensions import db

BEFORE = "1422728d37c2"  # the revision before partitions
OLD = clock.now() - timedelta(days=40)


def _rows():
    events = db.session.execute(
        sa.text("SELECT id, group_id, seq, xid, type, created_at FROM event ORDER BY id")
    ).all()
    deliveries = db.session.execute(
        sa.text("SELECT id, event_id, status, created_at FROM webhook_delivery ORDER BY id")
    ).all()
    mails = db.session.execute(
        sa.text("SELECT id, status, created_at, sent_at FROM outbox_message ORDER BY id")
    ).all()
    db.session.commit()
    return events, deliveries, mails


def _kind(table: str) -> str:
    if db.engine.dialect.name != "postgresql":
        return "plain"
    kind = db.session.scalar(sa.text(f"SELECT relkind FROM pg_class WHERE relname = '{table}'"))
    db.session.commit()
    return {"p": "partitioned", "r": "plain"}[kind]


def _partition_names() -> set[str]:
    names = partitions.partition_names(db.session.connection())
    db.session.commit()
    return names


def _populate() -> None:
    group = SiteGroup(slug="old", name="Old", default_language="en")
    db.session.add(group)
    db.session.flush()
    client = db.session.execute(
        sa.text(
            "INSERT INTO api_client (group_id, name, key_prefix, key_hash, scopes,"
            " verified_source, created_at) VALUES (:g, 'crm', 'abc', 'h', '[]', false, :now)"
            " RETURNING id"
        ),
        {"g": group.id, "now": clock.now()},
    ).scalar()
    endpoint = WebhookEndpoint(
        client_id=client, url="https://crm.example/h", event_types=[], secret="s"
    )
    db.session.add(endpoint)
    db.session.flush()
    rows = [(1, 0, OLD), (2, 0, OLD), (None, 0, OLD + timedelta(days=1)), (None, 0, clock.now())]
    for seq, xid, created_at in rows:
        event_id = db.session.execute(
            sa.text(
                "INSERT INTO event (group_id, seq, xid, type, payload, created_at)"
                " VALUES (:g, :seq, :xid, 'consent.changed', '{}', :at) RETURNING id"
            ),
            {"g": group.id, "seq": seq, "xid": xid, "at": created_at},
        ).scalar()
        db.session.execute(
            sa.text(
                "INSERT INTO webhook_delivery (endpoint_id, event_id, status, attempts,"
                " next_attempt_at, created_at) VALUES (:e, :ev, 'delivered', 1, :at, :at)"
            ),
            {"e": endpoint.id, "ev": event_id, "at": created_at},
        )
        db.session.execute(
            sa.text(
                "INSERT INTO outbox_message (group_id, kind, content, status, attempts,"
                " next_attempt_at, created_at, sent_at, discard_when_done)"
                " VALUES (:g, 'test', :content, 'sent', 1, :at, :at, :at, false)"
            ),
            {"g": group.id, "content": b"sealed", "at": created_at},
        )
    db.session.commit()


def test_a_populated_database_upgrades_to_partitions_and_back(app):
    db.session.remove()
    downgrade(revision=BEFORE)
    try:
        _populate()
        before = _rows()
        upgrade()
        assert _rows() == before
        postgresql = db.engine.dialect.name == "postgresql"
        assert _kind("event") == _kind("webhook_delivery") == _kind("outbox_message")
        assert _kind("event") == ("partitioned" if postgresql else "plain")

        # Written after the upgrade: a new id after the last, found with its delivery.
        group_id = before[0][0].group_id
        event = Event(group_id=group_id, type="consent.changed", payload={})
        db.session.add(event)
        db.session.flush()
        db.session.add(
            WebhookDelivery(endpoint_id=before[1][0].id, event_id=event.id, status="delivered")
        )
        db.session.commit()
        assert event.id > max(row.id for row in before[0])
        delivery = db.session.scalars(
            sa.select(WebhookDelivery).where(WebhookDelivery.event_id == event.id)
        ).one()
        assert delivery.event.id == event.id
        legacy = db.session.scalars(
            sa.select(Event.id).where(Event.group_id == group_id, Event.seq == 2)
        ).all()
        assert legacy == [before[0][1].id]
        after = _rows()
        db.session.remove()

        downgrade(revision=BEFORE)
        assert _rows() == after and _kind("event") == _kind("outbox_message") == "plain"

        # Once its last day is past its time, the table from before goes whole (PostgreSQL),
        # with its deliveries, and the feed starts after its last event.
        upgrade()
        later = clock.now() + timedelta(days=32)
        app.config["OUTBOX_KEEP_DAYS"] = 30
        mails, _ = outbox.rotate(later)
        assert mails + outbox.purge(later) == len(after[2])
        days = retention.rotate(later)
        events, _ = retention.purge(later)
        assert days.events + events == len(after[0]) and _rows() == ([], [], [])
        if postgresql:
            assert days.events == len(after[0]) and mails == len(after[2])
            assert not {"event_plegacy", "outbox_message_plegacy"} & _partition_names()
        start = db.session.scalars(sa.select(FeedStart.event_id)).one()
        assert start == max(row.id for row in after[0])
    finally:
        db.session.remove()
        upgrade()
