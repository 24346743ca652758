"""Recording consent captured elsewhere (portal.core.consent.recording): capture order,
bounds of captured_at, receipts. The rules, without HTTP."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.core.consent import changes, ledger, recording
from portal.core.consent.models import LedgerEntry, SignupRequest
from portal.core.integrations import clients
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.transaction import commit_session
from portal.core.people import export, subjects
from portal.extensions import db

SET_UP = datetime(2025, 1, 1, tzinfo=UTC)
T1, T2, T3 = (datetime(2025, 3, 1, hour, tzinfo=UTC) for hour in (9, 10, 11))


@pytest.fixture
def crm(demo):
    demo.created_at = SET_UP
    made, _ = clients.create("luxe", "Till", ["consent:write"])
    commit_session()
    return made


def held(subject):
    return list(changes.current(subject).values())


def record(crm, action, at, email="ada@example.org"):
    capture = recording.Capture(
        email=email,
        brand="camille",
        topic="events",
        channel="sms",
        action=action,
        captured_at=at,
        evidence={"store": "Lyon"},
        text_version=1 if action == "grant" else None,
    )
    answer = recording.record(crm, capture, "192.0.2.7", "till/1.0")
    commit_session()
    return answer


def test_changes_count_in_capture_order_whatever_the_arrival(crm):
    first = record(crm, "withdraw", T1)  # nobody yet
    assert (first["state"], first["result"], first["receipt"]) == ("unknown", "unchanged", None)
    late = record(crm, "grant", T3)
    early = record(crm, "withdraw", T1)
    middle = record(crm, "grant", T2)
    assert [a["result"] for a in (late, early, middle)] == ["applied", "stale", "stale"]
    assert [a["state"] for a in (late, early, middle)] == ["granted"] * 3

    subject = subjects.find(crm.group_id, "ada@example.org")
    document = export.document(subject)
    assert [(row.state, row.since) for row in held(subject)] == [("granted", T3)]
    receipts = document["receipts"]
    assert [(r["action"], r["consentReceiptID"]) for r in receipts] == [
        ("withdrawn", early["receipt"]),
        ("granted", middle["receipt"]),
        ("granted", late["receipt"]),
    ]
    entries = db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
    assert [(e.action, e.occurred_at) for e in entries] == [
        ("granted", T3),
        ("withdrawn", T1),
        ("granted", T2),
    ]
    assert all(
        ledger.personal_part(e)["evidence"]["store"] == "Lyon" and e.source == "api"
        for e in entries
    )


def test_a_later_withdrawal_applies_and_since_is_its_capture_time(crm):
    record(crm, "grant", T1)
    answer = record(crm, "withdraw", T2)
    assert (answer["result"], answer["state"], answer["changed"]) == ("applied", "withdrawn", True)
    subject = subjects.find(crm.group_id, "ada@example.org")
    (row,) = held(subject)
    assert (row.state, row.since) == ("withdrawn", T2)
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.hash == answer["receipt"]))
    assert (entry.action, entry.occurred_at) == ("withdrawn", T2)


@pytest.mark.parametrize(
    "at",
    [SET_UP - timedelta(microseconds=1), None],
    ids=["before the group existed", "beyond the clock skew"],
)
def test_captured_at_out_of_bounds_is_refused_by_name(crm, at):
    clock.freeze(clock.now())  # one instant for the test and the check: a slow machine moves none
    at = at or clock.now() + timedelta(seconds=301)
    with pytest.raises(InvalidInput) as refused:
        record(crm, "grant", at)
    assert refused.value.field == "captured_at"
    db.session.rollback()
    assert db.session.scalar(select(LedgerEntry.id)) is None


def test_a_double_opt_in_capture_waits_from_now_but_dates_the_consent_from_the_capture(demo):
    demo.created_at = SET_UP
    till, _ = clients.create("luxe", "Till", ["consent:write"])  # not a verified source
    commit_session()
    now = datetime(2025, 6, 1, 12, tzinfo=UTC)
    clock.freeze(now)
    capture = recording.Capture(
        email="bea@example.org",
        brand="camille",
        topic="news",
        channel="email",
        action="grant",
        captured_at=T1,
        evidence={"store": "Lyon"},
        text_version=1,
    )
    answer = recording.record(till, capture, None, None)
    commit_session()
    assert (answer["state"], answer["result"]) == ("pending", "applied")
    subject = subjects.find(till.group_id, "bea@example.org")
    assert [(row.state, row.since) for row in held(subject)] == [("pending", T1)]
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.hash == answer["receipt"]))
    assert (entry.action, entry.occurred_at) == ("requested", T1)
    # The confirmation window (and the lifecycle's count of unconfirmed requests) starts now.
    assert db.session.scalar(select(SignupRequest.requested_at)) == now
