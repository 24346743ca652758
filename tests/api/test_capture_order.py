"""Captured consent counts in the order people gave it, not the order it arrives; each write
answers with its receipt; captured_at has bounds."""

import re
from datetime import timedelta

from sqlalchemy import func, select

from portal.core.consent.models import LedgerEntry
from portal.core.kernel import clock
from portal.core.kernel.models.group import SiteGroup
from portal.core.people import export, subjects
from portal.extensions import db
from tests.actions import deliver
from tests.api.conftest import SET_UP, capture

EARLY = "2025-03-01T09:00:00+00:00"
MIDDLE = "2025-03-01T10:00:00+00:00"
LATE = "2025-03-01T11:00:00+00:00"
RECEIPT = re.compile(r"^[0-9a-f]{64}$")


def sms(api, action, at, **overrides):
    body = capture(action=action, captured_at=at, **overrides)
    if action == "withdraw":
        body.pop("text_version")
    return api.post("/consents", json=body)


def history(email="ada@example.org"):
    """The person's ledger as their export lists it (receipts, in the order things happened)."""
    group_id = db.session.scalar(select(SiteGroup.id).where(SiteGroup.slug == "luxe"))
    subject = subjects.find(group_id, email)
    return [
        (r["action"], r["occurredAt"], r["consentReceiptID"])
        for r in export.document(subject)["receipts"]
    ]


def held(api, email="ada@example.org"):
    answer = api.post("/consents/lookup", json={"email": email}).json
    return [(c["topic"], c["channel"], c["state"], c["since"]) for c in answer["consents"]]


def test_a_withdrawal_captured_before_a_stored_grant_is_stale_and_kept_as_history(api):
    granted = sms(api, "grant", LATE)
    assert granted.status_code == 200
    assert granted.json["result"] == "applied" and granted.json["changed"] is True
    assert RECEIPT.match(granted.json["receipt"])

    late_withdrawal = sms(api, "withdraw", EARLY)
    assert late_withdrawal.status_code == 200, late_withdrawal.json
    assert late_withdrawal.json["result"] == "stale"
    assert late_withdrawal.json["state"] == "granted"
    assert late_withdrawal.json["changed"] is False
    assert RECEIPT.match(late_withdrawal.json["receipt"])
    assert late_withdrawal.json["receipt"] != granted.json["receipt"]

    assert held(api) == [("events", "sms", "granted", LATE)]
    # Both are in the ledger, in the order the person acted, each under its receipt.
    assert history() == [
        ("withdrawn", EARLY, late_withdrawal.json["receipt"]),
        ("granted", LATE, granted.json["receipt"]),
    ]


def test_a_grant_captured_before_a_stored_withdrawal_does_not_grant(api):
    sms(api, "grant", EARLY)
    withdrawn = sms(api, "withdraw", LATE)
    assert withdrawn.json["result"] == "applied" and withdrawn.json["state"] == "withdrawn"
    events_before = api.get("/events").json["events"]

    stale = sms(api, "grant", MIDDLE)
    assert (stale.json["result"], stale.json["state"], stale.json["changed"]) == (
        "stale",
        "withdrawn",
        False,
    )
    assert held(api) == [("events", "sms", "withdrawn", LATE)]
    # Nothing changed, so clients are told of nothing.
    assert api.get("/events").json["events"] == events_before
    assert [(action, at) for action, at, _ in history()] == [
        ("granted", EARLY),
        ("granted", MIDDLE),
        ("withdrawn", LATE),
    ]


def test_since_in_lookups_and_events_is_the_capture_time(api):
    sms(api, "grant", EARLY)
    sms(api, "withdraw", LATE)
    assert held(api) == [("events", "sms", "withdrawn", LATE)]
    changes = [e["data"] for e in api.get("/events").json["events"]]
    assert [(d["state"], d["since"]) for d in changes if d.get("channel") == "sms"] == [
        ("granted", EARLY),
        ("withdrawn", LATE),
    ]


def test_an_email_grant_older_than_a_withdrawal_sends_no_confirmation(api, smtp):
    email = {"channel": "email", "topic": "news"}
    sms(api, "grant", EARLY, **email)  # pending: double opt-in
    assert held(api) == [("news", "email", "pending", EARLY)]
    assert sms(api, "withdraw", LATE, **email).json["result"] == "applied"
    deliver()
    sent = len(smtp.to("ada@example.org"))
    stale = sms(api, "grant", MIDDLE, **email)
    assert stale.status_code == 200
    assert (stale.json["result"], stale.json["state"]) == ("stale", "withdrawn")
    deliver()
    assert len(smtp.to("ada@example.org")) == sent


def test_a_repeat_is_unchanged_and_kept_as_proof_with_its_receipt(api):
    first = sms(api, "grant", EARLY)
    again = sms(api, "grant", LATE)
    assert (again.json["result"], again.json["changed"], again.json["state"]) == (
        "unchanged",
        False,
        "granted",
    )
    assert RECEIPT.match(again.json["receipt"])
    assert held(api) == [("events", "sms", "granted", EARLY)]  # granted since the first time
    assert history() == [
        ("granted", EARLY, first.json["receipt"]),
        ("reaffirmed", LATE, again.json["receipt"]),
    ]
    # The same change sent again (same capture time) writes nothing more.
    same = sms(api, "grant", LATE)
    assert (same.json["result"], same.json["receipt"]) == ("unchanged", None)
    assert len(history()) == 2
    nobody = sms(api, "withdraw", LATE, email="nobody@example.org")
    assert (nobody.json["result"], nobody.json["receipt"]) == ("unchanged", None)


def test_an_older_withdrawal_arriving_after_a_repeated_grant_is_stale(api):
    """Granted at 9, withdrawn at 10, granted again at 11: the CRM sends 9, then 11 (already
    granted: a repeat), then 10. The person's last word was the grant at 11."""
    sms(api, "grant", EARLY)
    sms(api, "grant", LATE)
    late = sms(api, "withdraw", MIDDLE)
    assert (late.json["result"], late.json["state"]) == ("stale", "granted")
    assert held(api) == [("events", "sms", "granted", EARLY)]
    assert [action for action, _, _ in history()] == ["granted", "withdrawn", "reaffirmed"]
    assert [e["data"]["state"] for e in api.get("/events").json["events"]] == ["granted"]


def test_an_older_grant_arriving_after_a_repeated_withdrawal_is_stale(api):
    sms(api, "grant", EARLY)
    sms(api, "withdraw", MIDDLE)
    again = sms(api, "withdraw", "2025-03-01T11:30:00+00:00")
    assert (again.json["result"], again.json["state"]) == ("unchanged", "withdrawn")
    assert RECEIPT.match(again.json["receipt"])
    late = sms(api, "grant", LATE)  # captured between the two withdrawals
    assert (late.json["result"], late.json["state"]) == ("stale", "withdrawn")
    assert held(api) == [("events", "sms", "withdrawn", MIDDLE)]
    assert [action for action, _, _ in history()] == [
        "granted",
        "withdrawn",
        "granted",
        "withdrawn_again",
    ]


def test_bulk_changes_keep_and_honour_repeats_alike(api):
    def bulk(key, action, at):
        body = capture(action=action, captured_at=at)
        if action == "withdraw":
            body.pop("text_version")
        return api.post("/consents/bulk", json={"changes": [{"key": key, **body}]}).json

    bulk("r-1", "grant", EARLY)
    repeat = bulk("r-2", "grant", LATE)["results"][0]
    assert (repeat["result"], repeat["changed"]) == ("unchanged", False)
    assert RECEIPT.match(repeat["receipt"])
    late = bulk("r-3", "withdraw", MIDDLE)["results"][0]  # sent alone or in bulk: stale
    assert (late["result"], late["state"]) == ("stale", "granted")
    assert history()[-1] == ("reaffirmed", LATE, repeat["receipt"])


def test_a_replayed_request_answers_the_same_receipt(api):
    body = capture(captured_at=EARLY)
    headers = {"Idempotency-Key": "till-7-0001"}
    first = api.post("/consents", json=body, headers=headers)
    again = api.post("/consents", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json == first.json and RECEIPT.match(first.json["receipt"])
    assert len(history()) == 1


def test_captured_at_is_not_before_the_group_nor_in_the_future(app, api):
    def refused(at):
        answer = sms(api, "grant", at.isoformat())
        assert answer.status_code == 422, answer.json
        assert answer.mimetype == "application/problem+json"
        assert answer.json["errors"][0]["field"] == "captured_at"

    refused(SET_UP - timedelta(seconds=1))
    refused(clock.now() + timedelta(seconds=301))
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
    # Within the clock skew a till's clock may run ahead.
    assert sms(api, "grant", (clock.now() + timedelta(seconds=240)).isoformat()).status_code == 200
    app.config["API_CLOCK_SKEW_SECONDS"] = 0
    refused(clock.now() + timedelta(seconds=60))
    assert sms(api, "grant", SET_UP.isoformat(), topic="news").json["result"] == "applied"


def test_a_repeat_within_one_bulk_request_orders_the_changes_after_it(api):
    changes = [
        {"key": f"s-{n}", **capture(action=action, captured_at=at)}
        for n, (action, at) in enumerate([("grant", EARLY), ("grant", LATE), ("withdraw", MIDDLE)])
    ]
    changes[2].pop("text_version")
    results = api.post("/consents/bulk", json={"changes": changes}).json["results"]
    assert [(r["result"], r["state"]) for r in results] == [
        ("applied", "granted"),
        ("unchanged", "granted"),
        ("stale", "granted"),
    ]
    receipts = [results[0]["receipt"], results[2]["receipt"], results[1]["receipt"]]
    assert [receipt for _, _, receipt in history()] == receipts
    assert [(action, at) for action, at, _ in history()] == [
        ("granted", EARLY),
        ("withdrawn", MIDDLE),
        ("reaffirmed", LATE),
    ]
