"""The change feed: every event after a cursor, in order, a page at a time, never one missed."""

import threading

from sqlalchemy import select, update

from portal.core.integrations.models.event import Event
from portal.extensions import db
from tests.api.conftest import Api, capture


def read_all(api, cursor="", limit=2):
    """Follow next_cursor until the feed says there is nothing more; (events, last cursor)."""
    seen = []
    while True:
        page = api.get(f"/events?after={cursor}&limit={limit}")
        assert page.status_code == 200, page.json
        seen += page.json["events"]
        cursor = page.json["next_cursor"]
        if not page.json["has_more"]:
            return seen, cursor


def test_grants_and_withdrawals_arrive_in_order_without_personal_data(api):
    api.post("/consents", json=capture())
    api.post("/consents", json=capture(action="withdraw", text_version=None))
    events, _ = read_all(api)
    assert [(e["type"], e["data"]["state"]) for e in events] == [
        ("consent.changed", "granted"),
        ("consent.changed", "withdrawn"),
    ]
    data = events[0]["data"]
    assert {k: data[k] for k in ("brand", "topic", "channel", "source")} == {
        "brand": "camille",
        "topic": "events",
        "channel": "sms",
        "source": "api",
    }
    assert "ada" not in str(events)


def test_a_client_resumes_from_its_cursor(api):
    for topic in ("news", "events", "offers"):
        api.post("/consents", json=capture(topic=topic))
    events, cursor = read_all(api)
    assert len(events) == 3
    assert api.get(f"/events?after={cursor}").json["events"] == []
    api.post("/consents", json=capture(topic="offers", action="withdraw", text_version=None))
    later, _ = read_all(api, cursor)
    assert [e["data"]["state"] for e in later] == ["withdrawn"]
    # An event's id is a cursor too: resuming after the first event gives the rest.
    rest, _ = read_all(api, events[0]["id"])
    assert [e["id"] for e in rest] == [e["id"] for e in events[1:]] + [later[0]["id"]]


def test_no_event_is_missed_while_events_are_being_written(app, api):
    """A reader paging through the feed while a writer adds events sees every one exactly once."""
    app.config["RATELIMIT_API"] = "100000 per minute"
    writer_api = Api(app.test_client(), api.key)  # its own requests, sessions and commits
    total, failures = 24, []

    def writer():
        for n in range(total):
            topic = ("news", "events", "offers")[n % 3]
            answer = writer_api.post(
                "/consents", json=capture(email=f"p{n}@example.org", topic=topic)
            )
            if answer.status_code != 200:
                failures.append(answer.get_data(as_text=True))

    thread = threading.Thread(target=writer)
    thread.start()
    seen, cursor, polls = [], "", 0
    while (thread.is_alive() or len(seen) < total) and polls < 5000 and not failures:
        polls += 1
        page = api.get(f"/events?after={cursor}&limit=3").json
        seen += page["events"]
        cursor = page["next_cursor"]
        db.session.commit()  # end the read transaction, so SQLite lets the writer in
    thread.join()
    assert failures == []
    ids = [e["id"] for e in seen]
    assert len(ids) == total == len(set(ids))


def test_a_cursor_that_the_feed_did_not_issue_is_refused(api):
    for query in ("after=garbage!", "after=ZTE6LTE", "limit=0", "limit=10001", "limit=x"):
        answer = api.get(f"/events?{query}")
        assert answer.status_code == 422, query
        assert answer.mimetype == "application/problem+json"


def test_cursors_handed_out_before_the_upgrade_still_work(api):
    """Events written before commit-ordered positions keep the number their group gave them
    (and transaction id 0, as the upgrade leaves them), and so the ids handed out then,
    ``e1:<number>``: a client resuming from one it stored gets what followed."""
    for topic in ("news", "events", "offers"):
        api.post("/consents", json=capture(topic=topic))
    for number, event_id in enumerate(db.session.scalars(select(Event.id).order_by(Event.id)), 1):
        db.session.execute(update(Event).where(Event.id == event_id).values(seq=number, xid=0))
    db.session.commit()
    api.post("/consents", json=capture(topic="offers", action="withdraw", text_version=None))

    events, _ = read_all(api)
    assert [e["id"] for e in events[:3]] == ["ZTE6MQ", "ZTE6Mg", "ZTE6Mw"]  # e1:1, e1:2, e1:3
    rest, _ = read_all(api, "ZTE6MQ")
    assert [e["id"] for e in rest] == [e["id"] for e in events[1:]]
    assert [e["data"]["state"] for e in rest] == ["granted", "granted", "withdrawn"]
    assert read_all(api, "ZTE6MA")[0] == events  # e1:0, an empty feed's cursor: the start
    # e1:99, past every numbered event (any number is a place, as it was): what came after.
    assert read_all(api, "ZTE6OTk")[0] == events[3:]
