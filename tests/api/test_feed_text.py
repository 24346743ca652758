"""A feed page as a client reads it: each event exactly as a webhook describes it, whether the
database wrote its text (PostgreSQL) or the app did (SQLite), and a cursor echoed as JSON."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from portal.core.integrations import events
from portal.core.integrations.models.event import Event
from portal.core.kernel import clock
from portal.core.people import profile, subjects
from portal.extensions import db
from tests.api.conftest import NOW, capture


def _page(api, query=""):
    answer = api.get(f"/events?limit=10000{query}")
    assert answer.status_code == 200, answer.json
    return json.loads(answer.data)  # the bytes as sent: a document any JSON parser reads


def test_every_kind_of_event_reads_as_its_webhook_describes_it(api):
    """Grants at a whole second and at a moment with microseconds, an event numbered before
    commit order (an ``e1`` id), a profile change with its personal part, and the client's
    own id of the person merged in: the page holds each as ``events.describe`` has it."""
    clock.freeze(NOW)  # microsecond 0: isoformat writes no fraction
    ada = api.post("/consents", json=capture()).json["subject_id"]
    clock.freeze(NOW + timedelta(seconds=1, microseconds=120_000))
    grace = api.post("/consents", json=capture(email="grace@example.org")).json["subject_id"]
    first = db.session.scalar(select(Event.id).order_by(Event.id))
    db.session.execute(update(Event).where(Event.id == first).values(seq=1, xid=0))
    db.session.commit()
    answer = api.put(f"/subjects/{grace}/external-id", json={"external_id": "CRM-7"})
    assert answer.status_code == 200, answer.json
    clock.freeze(NOW + timedelta(minutes=1, microseconds=5))
    profile.edit(subjects.find(1, "ada@example.org"), profile.FIRST_NAME, "Ann é", "subject")
    db.session.commit()
    clock.freeze(None)

    page = _page(api)
    stored = db.session.scalars(select(Event).order_by(Event.xid, Event.id)).all()
    assert page["events"] == [events.describe(event, api.id) for event in stored]
    by_type = {e["type"]: e for e in page["events"]}
    assert by_type["profile.updated"]["data"]["changed"] == {"first_name": "Ann é"}
    created = [e["created_at"] for e in page["events"]]
    assert created[:2] == ["2025-03-01T12:00:00+00:00", "2025-03-01T12:00:01.120000+00:00"]
    assert page["events"][0]["id"] == "ZTE6MQ"  # e1:1
    assert [e["data"].get("external_id") for e in page["events"]][:2] == [None, "CRM-7"]
    assert page["events"][-1]["data"]["subject_id"] == ada
    assert page["next_cursor"] == page["events"][-1]["id"] and page["has_more"] is False


def test_a_page_that_stops_short_says_where_to_go_on(api):
    for topic in ("news", "events", "offers"):
        api.post("/consents", json=capture(topic=topic))
    everything = _page(api)["events"]
    first = api.get("/events?limit=2").json
    assert first["events"] == everything[:2]
    assert (first["next_cursor"], first["has_more"]) == (everything[1]["id"], True)
    rest = api.get(f"/events?limit=2&after={first['next_cursor']}").json
    assert (rest["events"], rest["has_more"]) == (everything[2:], False)


def test_a_cursor_given_back_on_an_empty_page_is_valid_json(api):
    """Characters outside base64 in a cursor are ignored by its decoding; a page with nothing
    new hands the cursor back as it came, encoded as a JSON string, never pasted in."""
    api.post("/consents", json=capture())
    end = _page(api)["next_cursor"]
    odd = end + "%22%5C"  # the same position, followed by a quote and a backslash
    page = _page(api, f"&after={odd}")
    assert page == {"events": [], "next_cursor": end + '"\\', "has_more": False}


def test_a_page_after_a_large_batch_reads_the_index_in_order_without_sorting(api, app):
    """One transaction writing many events (an import) gives the planner statistics on
    ``xid`` that say nothing follows a position inside it. The page must still read the
    index from the position and stop after a page, never read and sort the rest of the feed
    (which made every page of a long catch-up as slow as the whole remaining feed)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("partitions, statistics and plans are PostgreSQL's")
    from portal.core.integrations import cursors, feed
    from portal.core.integrations.models.api import ApiClient

    api.post("/consents", json=capture())
    db.session.execute(
        text(
            "INSERT INTO event (group_id, xid, type, subject_id, payload, created_at) "
            "SELECT group_id, xid, type, subject_id, payload, created_at "
            "FROM event, generate_series(1, 50000)"
        )
    )
    db.session.commit()
    db.session.execute(text("ANALYZE event"))
    batch = db.session.execute(select(Event.xid, Event.id).order_by(Event.id.desc())).first()
    client = db.session.get(ApiClient, api.id)
    query = feed._query(client, cursors.Position(batch.xid, batch.id - 25000), 1001, True)
    compiled = query.compile(dialect=db.engine.dialect)
    explain = db.session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
    plan = explain.scalars().all()
    db.session.rollback()
    assert not [line for line in plan if "Sort" in line and "Sort Key" not in line], plan
    page = api.get(f"/events?limit=1000&after={cursors.encode(batch.xid, batch.id - 25000)}")
    assert len(page.json["events"]) == 1000 and page.json["has_more"] is True
