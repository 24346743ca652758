"""Bulk capture: up to 1,000 changes per request, each decided, kept and answered on its own."""

import re
import threading

import pytest
from sqlalchemy import func, select

from portal.core.consent import audit, bulk
from portal.core.consent.models import LedgerEntry
from portal.core.integrations.models.api import WebhookDelivery, WebhookEndpoint
from portal.core.integrations.models.event import Event
from portal.core.kernel.models.group import SiteGroup
from portal.extensions import db
from tests import actions
from tests.actions import deliver
from tests.api.conftest import capture

EARLY = "2025-03-01T09:00:00+00:00"
MIDDLE = "2025-03-01T10:00:00+00:00"
LATE = "2025-03-01T11:00:00+00:00"
RECEIPT = re.compile(r"^[0-9a-f]{64}$")


def change(key, action="grant", at=EARLY, **overrides):
    body = capture(action=action, captured_at=at, **overrides)
    if action == "withdraw":
        body.pop("text_version", None)
    return {"key": key, **body}


def send(api, *changes, **kwargs):
    return api.post("/consents/bulk", json={"changes": list(changes)}, **kwargs)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def held(api, email="ada@example.org"):
    answer = api.post("/consents/lookup", json={"email": email}).json
    return [(c["topic"], c["channel"], c["state"], c["since"]) for c in answer["consents"]]


def test_each_change_is_answered_on_its_own_and_a_bad_one_spoils_nothing(api):
    answer = send(
        api,
        change("a-1"),
        change("a-2", topic="gifts"),  # no such topic
        {"key": "a-3", "email": "bob@example.org"},  # not a change at all
        "not even an object",
        change("a-5", email="bob@example.org", topic="offers", channel="email"),
        change("a-6", action="withdraw", email="nobody@example.org"),
        change("a-7", email="not an address"),
    )
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    results = answer.json["results"]
    assert [r["result"] for r in results] == [
        "applied",
        "refused",
        "refused",
        "refused",
        "applied",
        "unchanged",
        "refused",
    ]
    assert [r["key"] for r in results] == ["a-1", "a-2", "a-3", None, "a-5", "a-6", "a-7"]
    assert answer.json["counts"] == {"applied": 2, "unchanged": 1, "stale": 0, "refused": 4}

    granted = results[0]
    assert (granted["brand"], granted["topic"], granted["channel"]) == ("camille", "events", "sms")
    assert (granted["state"], granted["changed"]) == ("granted", True)
    assert RECEIPT.match(granted["receipt"])
    # Refused as the same change sent alone would be: problem details, naming the field.
    topic = results[1]["problem"]
    assert (topic["status"], topic["errors"][0]["field"]) == (422, "topic")
    assert topic["type"].endswith("/invalid-body")
    assert results[2]["problem"]["status"] == 422
    assert results[3]["problem"]["status"] == 422
    assert results[6]["problem"]["errors"][0]["field"] == "email"
    assert results[4]["state"] == "pending"  # an email grant waits for double opt-in
    assert (results[5]["subject_id"], results[5]["receipt"]) == (None, None)

    assert held(api) == [("events", "sms", "granted", EARLY)]
    assert count(LedgerEntry) == 2  # the grant and bob's request; nothing for the refused


def test_the_same_as_one_at_a_time_whatever_the_arrival_order(api):
    answer = send(
        api,
        change("b-1", at=LATE),
        change("b-2", action="withdraw", at=EARLY),  # captured before the grant: stale
        change("b-3", action="withdraw", at=MIDDLE, topic="news", channel="email"),
    )
    results = answer.json["results"]
    assert [(r["result"], r["state"], r["changed"]) for r in results] == [
        ("applied", "granted", True),
        ("stale", "granted", False),
        ("unchanged", "unknown", False),
    ]
    assert RECEIPT.match(results[1]["receipt"]) and results[1]["receipt"] != results[0]["receipt"]
    assert held(api) == [("events", "sms", "granted", LATE)]
    later = send(api, change("b-4", action="withdraw", at=LATE.replace("11:", "12:")))
    assert later.json["results"][0]["result"] == "applied"
    assert held(api) == [("events", "sms", "withdrawn", "2025-03-01T12:00:00+00:00")]
    # The ledger holds every change at its capture time, its chain whole.
    group_id = db.session.scalar(select(SiteGroup.id).where(SiteGroup.slug == "luxe"))
    assert audit.verify(group_id).breaks == []
    rows = db.session.execute(
        select(LedgerEntry.action, LedgerEntry.hash).order_by(LedgerEntry.occurred_at)
    ).all()
    assert [action for action, _ in rows] == ["withdrawn", "granted", "withdrawn"]
    assert rows[0].hash == results[1]["receipt"] and rows[1].hash == results[0]["receipt"]


def test_events_for_what_changed_only_and_webhooks_queued(api):
    api.post(
        "/webhooks", json={"url": "https://hooks.example.org/p", "events": ["consent.changed"]}
    )
    send(api, change("c-1", at=MIDDLE), change("c-2", action="withdraw", at=EARLY))
    events = api.get("/events").json["events"]
    assert [(e["type"], e["data"]["state"], e["data"]["since"]) for e in events] == [
        ("consent.changed", "granted", MIDDLE)
    ]
    assert events[0]["data"]["source"] == "api"
    endpoint = db.session.scalar(select(WebhookEndpoint.id))
    assert db.session.scalars(select(WebhookDelivery.endpoint_id)).all() == [endpoint]


def test_a_replayed_change_gets_its_first_answer_again_with_no_second_effect(api, smtp):
    changes = [
        change("d-1"),
        change("d-2", email="eve@example.org", topic="news", channel="email"),
        change("d-3", topic="gifts"),
    ]
    first = send(api, *changes)
    deliver()
    entries, events = count(LedgerEntry), count(Event)
    again = send(api, *reversed(changes))  # any request, any order: the key answers
    assert again.json["results"] == list(reversed(first.json["results"]))
    assert (count(LedgerEntry), count(Event)) == (entries, events)
    deliver()
    assert len(smtp.to("eve@example.org")) == 1
    # A refused change keeps no answer: fixed, it may use its key.
    fixed = send(api, change("d-3", topic="offers"))
    assert fixed.json["results"][0]["result"] == "applied"


def test_a_key_says_one_change(api):
    answer = send(api, change("e-1"), change("e-1"), change("e-1", topic="offers"))
    results = answer.json["results"]
    assert results[1] == results[0] and results[0]["result"] == "applied"
    assert results[2]["result"] == "refused"
    assert results[2]["problem"]["type"].endswith("/idempotency-key-reused")
    later = send(api, change("e-1", at=MIDDLE))
    assert later.json["results"][0]["problem"]["status"] == 409
    assert count(LedgerEntry) == 1


def test_several_changes_of_one_consent_count_in_the_order_sent(api):
    answer = send(
        api,
        change("f-1", at=EARLY),
        change("f-2", action="withdraw", at=MIDDLE),
        change("f-3", at=LATE),
    )
    assert [r["result"] for r in answer.json["results"]] == ["applied"] * 3
    assert [r["state"] for r in answer.json["results"]] == ["granted", "withdrawn", "granted"]
    assert held(api) == [("events", "sms", "granted", LATE)]
    assert [e["data"]["state"] for e in api.get("/events").json["events"]] == [
        "granted",
        "withdrawn",
        "granted",
    ]


def test_suppressed_addresses_accept_withdrawals_only(api):
    api.post("/consents", json=capture())
    api.post("/subjects/erasures", json={"email": "ada@example.org"})
    answer = send(api, change("g-1"), change("g-2", action="withdraw"))
    refused, withdrawn = answer.json["results"]
    assert refused["problem"]["status"] == 409
    assert refused["problem"]["type"].endswith("/suppressed")
    assert withdrawn["result"] == "unchanged"


def test_a_client_limited_to_brands_learns_nothing_of_others(make_api):
    everything, camille = make_api(name="all"), make_api(name="camille", brands=["camille"])
    everything.post("/consents", json=capture(brand="vespera", topic="news", channel="email"))
    answer = send(camille, change("h-1", action="withdraw"), change("h-2", brand="vespera"))
    unseen, other_brand = answer.json["results"]
    alone = camille.post("/consents", json=capture(action="withdraw", text_version=None))
    assert {k: v for k, v in unseen.items() if k != "key"} == alone.json
    assert other_brand["problem"]["errors"][0]["field"] == "brand"


@pytest.mark.parametrize(
    "body",
    [[], {"changes": []}, {"changes": {}}, {"changes": [change("x")], "more": 1}, "changes"],
)
def test_a_wrong_envelope_refuses_the_request(api, body):
    answer = api.post("/consents/bulk", json=body)
    assert answer.status_code == 422
    assert answer.mimetype == "application/problem+json"
    assert count(LedgerEntry) == 0


def test_more_than_a_thousand_changes_is_too_large(api):
    answer = send(api, *[change(f"k-{i}") for i in range(bulk.MAX_CHANGES + 1)])
    assert answer.status_code == 413
    assert answer.json["type"].endswith("/too-many-changes")
    assert count(LedgerEntry) == 0


def test_keys_go_with_each_change_not_the_request(api):
    answer = send(api, change("i-1"), headers={"Idempotency-Key": "whole"})
    assert answer.status_code == 400
    assert count(LedgerEntry) == 0


def test_a_thousand_changes_in_one_request(api):
    people = [f"person{i}@example.org" for i in range(bulk.MAX_CHANGES)]
    answer = send(api, *[change(f"j-{i}", email=email) for i, email in enumerate(people)])
    assert answer.json["counts"] == {
        "applied": bulk.MAX_CHANGES,
        "unchanged": 0,
        "stale": 0,
        "refused": 0,
    }
    assert len({r["subject_id"] for r in answer.json["results"]}) == bulk.MAX_CHANGES
    assert count(Event) == count(LedgerEntry) == bulk.MAX_CHANGES


def test_two_bulk_requests_about_the_same_people_in_opposite_orders(app, make_api, monkeypatch):
    """On PostgreSQL: both read the same people, then each takes their locks in id order, so
    one waits for the other instead of deadlocking; every change is decided on what the other
    stored."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time")
    api = make_api()
    people = [f"p{i}@example.org" for i in range(40)]
    send(api, *[change(f"setup-{i}", email=email) for i, email in enumerate(people)])
    newcomers = [f"new{i}@example.org" for i in range(10)]
    withdrawals = [
        change(f"w-{i}", action="withdraw", at=LATE, email=email) for i, email in enumerate(people)
    ] + [change(f"wn-{i}", at=LATE, email=email) for i, email in enumerate(newcomers)]
    grants = [
        change(f"g-{i}", at=MIDDLE, email=email)
        for i, email in enumerate(reversed(people + newcomers))
    ]
    client = app.test_client()

    def post(changes):
        def work():
            answer = client.post(
                "/api/v1/consents/bulk",
                json={"changes": changes},
                headers={"Authorization": f"Bearer {api.key}"},
            )
            return answer.status_code, answer.json

        return work

    works, taking = iter([post(withdrawals), post(grants)]), threading.Lock()

    def one_of_them():
        with taking:
            work = next(works)
        return work()

    run = actions.side_by_side(app, monkeypatch, bulk._Bulk, "_people")
    results, errors = run(one_of_them)
    assert errors == []
    assert sorted(status for status, _ in results) == [200, 200]
    assert all(body["counts"]["refused"] == 0 for _, body in results)
    for email in people:
        assert held(api, email) == [("events", "sms", "withdrawn", LATE)]
    for email in newcomers:
        assert held(api, email)[0][:3] == ("events", "sms", "granted")
    group_id = db.session.scalar(select(SiteGroup.id).where(SiteGroup.slug == "luxe"))
    assert audit.verify(group_id).breaks == []
