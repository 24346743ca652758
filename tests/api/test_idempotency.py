"""Idempotency-Key: a retried write has no second effect; a reused key is a conflict."""

from sqlalchemy import func, select

from portal.core.consent.models import LedgerEntry
from portal.core.integrations.models.event import Event
from portal.extensions import db
from tests.actions import deliver
from tests.api.conftest import capture


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
