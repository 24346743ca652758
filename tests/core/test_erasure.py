"""Erasure: all or nothing, proof kept anonymously, the address never contacted again."""

import pytest
from sqlalchemy import func, select

from portal.core.consent import audit, ledger
from portal.core.consent.changes import Origin
from portal.core.consent.models import Consent, LedgerEntry, SignupRequest
from portal.core.mail.models import OutboxMessage
from portal.core.people import erasure, subjects
from portal.core.people.models.erasure import ErasureRecord, Suppression
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.actions import confirm, confirmation_link, decide, deliver, sign_up
from tests.core.test_encryption import _raw_database_text
from tests.factories import member
from tests.smtp import text_of

ORIGIN = Origin(source="preference_centre", actor="subject", ip="192.0.2.7", user_agent="UA")


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _active(client, smtp, address="gone@example.com") -> Subject:
    sign_up(client, address)
    deliver()
    confirm(client, confirmation_link(smtp.to(address)[0]))
    sign_up(client, address, topics=[3])  # a pending request and a queued mail too
    decide()
    smtp.clear()
    return subjects.find(1, address)


def test_erasure_removes_the_person_and_keeps_anonymous_proof(client, demo, smtp):
    subject = _active(client, smtp)
    before = _count(LedgerEntry)
    record = erasure.erase(subject, "subject", ORIGIN)

    assert _count(Subject) == 0 and _count(Consent) == 0 and _count(SignupRequest) == 0
    assert record.counts["consent"] == 3
    assert record.counts["consents_withdrawn"] == 3
    assert record.counts["signup_request"] == 2
    assert record.counts["ledger_entries_anonymised"] == before + 3
    rows = db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
    assert [r.action for r in rows][-3:] == ["withdrawn"] * 3
    assert all(r.subject_id is None and r.erasure_id == record.id for r in rows)
    assert all(r.ip is None and r.user_agent is None for r in rows)
    report = audit.verify(demo.id)
    assert report.breaks == [] and report.entries == len(rows)
    assert erasure.is_suppressed(demo.id, subjects.address_hash(demo.id, "gone@example.com"))
    stored = db.session.get(ErasureRecord, record.id)
    assert stored.requested_by == "subject" and stored.subject_ref == subject.id

    # The queued "already registered" mail went with the person; only the farewell is left.
    assert [m.kind for m in db.session.scalars(select(OutboxMessage))] == ["erasure_confirmed"]
    deliver()
    [farewell] = smtp.messages
    assert farewell["To"] == "gone@example.com"
    assert "we have erased your data" in text_of(farewell)
    assert _count(OutboxMessage) == 0  # discarded once sent
    assert "gone@example.com" not in _raw_database_text().lower()


def test_a_failure_halfway_leaves_everything_as_it_was(client, demo, smtp, monkeypatch):
    subject = _active(client, smtp)
    counts = {m: _count(m) for m in (Subject, Consent, SignupRequest, OutboxMessage, Suppression)}
    rows_before = [(r.id, r.subject_id, r.ip) for r in db.session.scalars(select(LedgerEntry))]

    def broken(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ledger, "anonymise", broken)
    with pytest.raises(RuntimeError):
        erasure.erase(subject, "subject", ORIGIN)
    db.session.expire_all()
    assert {m: _count(m) for m in counts} == counts
    assert [
        (r.id, r.subject_id, r.ip) for r in db.session.scalars(select(LedgerEntry))
    ] == rows_before
    assert _count(ErasureRecord) == 0
    assert audit.verify(demo.id).breaks == []


def test_signing_up_again_by_double_opt_in_lifts_the_suppression(client, demo, smtp):
    erasure.erase(_active(client, smtp, "back@example.com"), "subject", ORIGIN)
    deliver()
    smtp.clear()
    answer = sign_up(client, "back@example.com")
    assert "Check your inbox" in answer.get_data(as_text=True)
    deliver()
    assert _count(Suppression) == 1  # not before the person confirms
    confirm(client, confirmation_link(smtp.to("back@example.com")[0]))
    assert _count(Suppression) == 0
    last = db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()
    assert (last.action, last.source) == ("suppression_lifted", "double_opt_in")
    assert audit.verify(demo.id).breaks == []


def test_the_newest_persons_id_is_never_given_to_the_next(app, demo):
    """Feed events and disposal records name former subject ids: a new person must never
    take one over, even when the erased person was the newest row."""
    member("first@example.com")
    newest = member("newest@example.com")
    newest_id = newest.id
    erasure.erase(newest, "subject", Origin(source="self_service", actor="subject"))
    assert db.session.get(Subject, newest_id) is None
    assert member("next@example.com").id > newest_id
