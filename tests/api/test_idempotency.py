"""Idempotency-Key: a retried write has no second effect; a reused key is a conflict."""

import hashlib
import json
from datetime import timedelta

from sqlalchemy import func, select

from portal.core.consent.models import LedgerEntry
from portal.core.integrations import idempotency
from portal.core.integrations.models.api import IdempotencyRecord
from portal.core.integrations.models.event import Event
from portal.core.kernel import clock
from portal.extensions import db
from tests.actions import deliver
from tests.api.conftest import capture
from tests.core.test_one_off_keys import _copies, _one_off, _unreadable


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_same_key_and_body_gives_the_same_answer_once(api, smtp):
    body = capture(channel="email", topic="news")
    first = api.post("/consents", json=body, headers={"Idempotency-Key": "call-7"})
    second = api.post("/consents", json=body, headers={"Idempotency-Key": "call-7"})
    assert first.status_code == second.status_code == 202
    assert first.json == second.json
    assert count(LedgerEntry) == 1
    deliver()
    assert len(smtp.to("ada@example.org")) == 1


def test_the_same_key_with_another_body_is_a_conflict(api):
    api.post("/consents", json=capture(), headers={"Idempotency-Key": "call-8"})
    other = api.post(
        "/consents", json=capture(topic="offers"), headers={"Idempotency-Key": "call-8"}
    )
    assert other.status_code == 409
    assert other.mimetype == "application/problem+json"
    assert other.json["type"].endswith("idempotency-key-reused")
    assert count(LedgerEntry) == 1


def test_keys_belong_to_one_client(make_api):
    crm, till = make_api(name="crm"), make_api(name="till")
    crm.post("/consents", json=capture(), headers={"Idempotency-Key": "k"})
    answer = till.post("/consents", json=capture(topic="offers"), headers={"Idempotency-Key": "k"})
    assert answer.status_code == 200
    assert count(Event) == 2


def test_a_refused_write_keeps_no_answer_so_the_fixed_request_can_use_the_key(api):
    bad = api.post("/consents", json=capture(topic="nope"), headers={"Idempotency-Key": "k2"})
    assert bad.status_code == 422
    good = api.post("/consents", json=capture(), headers={"Idempotency-Key": "k2"})
    assert good.status_code == 200
    assert count(LedgerEntry) == 1


def test_a_malformed_key_is_a_bad_request(api):
    answer = api.post("/consents", json=capture(), headers={"Idempotency-Key": "x" * 201})
    assert answer.status_code == 400
    assert count(LedgerEntry) == 0


def test_the_fingerprint_is_keyed_so_a_list_of_addresses_cannot_be_matched_against_it(api):
    """A plain hash of the body would let anyone holding a copy of the database and a list of
    addresses tell who was written about; the fingerprint is an HMAC under the hash key."""
    raw = json.dumps(capture()).encode()
    answer = api.post(
        "/consents", data=raw, content_type="application/json", headers={"Idempotency-Key": "k"}
    )
    assert answer.status_code == 200
    record = db.session.scalar(select(IdempotencyRecord))
    assert record.fingerprint != hashlib.sha256(b"POST /api/v1/consents\n" + raw).hexdigest()
    assert record.fingerprint == idempotency.fingerprint("POST", "/api/v1/consents", raw)
    assert record.fingerprint != idempotency.fingerprint("POST", "/api/v1/consents", raw + b" ")


def test_records_are_purged_after_idempotency_hours_by_the_lifecycle_run(app, api, runner):
    start = clock.now()
    clock.freeze(start)
    api.post("/consents", json=capture(), headers={"Idempotency-Key": "old"})
    clock.freeze(start + timedelta(hours=47))
    api.post("/consents", json=capture(topic="offers"), headers={"Idempotency-Key": "young"})
    clock.freeze(start + timedelta(hours=48, minutes=1))
    result = runner.invoke(args=["lifecycle", "run"])
    assert "idempotency records older than IDEMPOTENCY_HOURS: deleted 1" in result.output
    assert db.session.scalars(select(IdempotencyRecord.key)).all() == ["young"]
    # The forgotten key is free again: the same request now runs as new (and changes nothing).
    again = api.post("/consents", json=capture(), headers={"Idempotency-Key": "old"})
    assert again.status_code == 200


def test_idempotent_answers_are_unreadable_once_purged(demo, api):
    """An answer may name a person: it is under a one-off key, deleted with the record."""
    for key in ("one-off-1", "one-off-2"):
        answer = api.post("/consents", json=capture(), headers={"Idempotency-Key": key})
        assert answer.status_code == 200
    copies = _copies(IdempotencyRecord.response)
    assert len(_one_off(copies)) == 2  # one key per request
    assert idempotency.purge(now=clock.now() + timedelta(hours=1)) == 0
    later = clock.now() + timedelta(hours=49)
    assert idempotency.purge(now=later) == 2
    _unreadable(copies)
