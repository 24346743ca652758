"""Erasure through the API: the self-service erasure, a subject.erased event, suppression after."""

from sqlalchemy import func, select

from portal.core.consent import audit
from portal.core.people.models.erasure import ErasureRecord
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.actions import confirm, confirmation_link, decide, deliver, sign_up


def _active(client, smtp, address="phone@example.com"):
    sign_up(client, address)
    deliver()
    confirm(client, confirmation_link(smtp.to(address)[0]))


def test_erasure_by_address_then_suppressed_everywhere(client, demo, smtp, make_api):
    _active(client, smtp)
    api = make_api()
    answer = api.post(
        "/subjects/erasures",
        json={"email": "Phone@Example.com", "reason": "asked by phone, ticket 42"},
    )
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "erased" and body["erasure_id"]
    assert db.session.scalar(select(func.count()).select_from(Subject)) == 0
    record = db.session.get(ErasureRecord, body["erasure_id"])
    # The free-text reason may name the person: it went with them, not into the record.
    assert record.requested_by == "api:CRM" and record.reason == ""
    assert audit.verify(demo.id).breaks == []

    # The feed tells the CRM: the withdrawals first, then the erasure, with no address.
    events = api.get("/events?limit=100").get_json()["events"]
    assert [e["type"] for e in events][-1] == "subject.erased"
    assert events[-1]["data"] == {
        "subject_id": body["subject_id"],
        "erasure_id": body["erasure_id"],
    }
    withdrawn = [
        e for e in events if e["type"] == "consent.changed" and e["data"]["state"] == "withdrawn"
    ]
    assert len(withdrawn) == 2
    assert "phone@example.com" not in str(events).lower()

    # Suppressed: lookups say so, grants are refused, withdrawals still accepted.
    looked = api.post("/consents/lookup", json={"email": "phone@example.com"}).get_json()
    assert looked["status"] == "suppressed"
    grant = {
        "email": "phone@example.com",
        "brand": "camille",
        "topic": "news",
        "channel": "email",
        "action": "grant",
        "captured_at": "2026-11-01T10:00:00Z",
        "evidence": {"agent": "A. Agent"},
        "text_version": 1,
    }
    refused = api.post("/consents", json=grant)
    assert refused.status_code in (409, 422) and "suppressed" in refused.get_data(as_text=True)
    again = api.post("/subjects/erasures", json={"email": "phone@example.com"}).get_json()
    assert again == {"status": "suppressed", "subject_id": None, "erasure_id": None}


def test_an_audience_check_never_clears_an_erased_address(client, demo, smtp, make_api):
    _active(client, smtp, "gone@example.com")
    _active(client, smtp, "stays@example.com")
    api = make_api()
    api.post("/subjects/erasures", json={"email": "gone@example.com"})
    # Signed up again but not yet confirmed: still on the suppression list, still not contacted.
    sign_up(client, "back@example.com")
    decide()
    api.post("/subjects/erasures", json={"email": "back@example.com"})
    sign_up(client, "back@example.com")
    decide()
    emails = ["GONE@example.com", "stays@example.com", "back@example.com", "gone@example.com"]
    answer = api.post(
        "/consents/check",
        json={"brand": "camille", "topic": "news", "channel": "email", "emails": emails},
    )
    assert [(r["email"], r["state"], r["contact"]) for r in answer.get_json()["results"]] == [
        ("GONE@example.com", "suppressed", False),
        ("stays@example.com", "granted", True),
        ("back@example.com", "suppressed", False),
        ("gone@example.com", "suppressed", False),
    ]


def test_unknown_address_is_an_answer_and_needs_the_scope(client, demo, make_api):
    api = make_api()
    answer = api.post("/subjects/erasures", json={"email": "nobody@example.com"})
    assert answer.get_json()["status"] == "unknown"
    reader = make_api(scopes=["consent:read"], name="Reader")
    assert reader.post("/subjects/erasures", json={"email": "x@example.com"}).status_code == 403
    both = api.post("/subjects/erasures", json={"email": "a@example.com", "subject_id": 1})
    assert both.status_code == 422
    assert api.post("/subjects/erasures", json={"subject_id": 999}).status_code == 404


def test_a_brand_limited_client_cannot_erase_someone_it_cannot_see(client, demo, smtp, make_api):
    _active(client, smtp, "camille-only@example.com")
    other = make_api(brands=["vespera"], name="Vespera shop")
    answer = other.post("/subjects/erasures", json={"email": "camille-only@example.com"})
    assert answer.get_json()["status"] == "unknown"
    assert db.session.scalar(select(func.count()).select_from(Subject)) == 1


def test_relationship_is_recorded_for_the_retention_rules(client, demo, smtp, make_api):
    _active(client, smtp, "buyer@example.com")
    api = make_api()
    answer = api.post(
        "/subjects/relationship",
        json={"email": "buyer@example.com", "relationship": "former_customer"},
    )
    assert answer.status_code == 200
    assert answer.get_json()["relationship"] == "former_customer"
    subject = db.session.scalar(select(Subject))
    db.session.refresh(subject)
    assert subject.relationship_status == "former_customer"
    bad = api.post(
        "/subjects/relationship", json={"subject_id": subject.id, "relationship": "friend"}
    )
    assert bad.status_code in (400, 422)
    unknown = api.post(
        "/subjects/relationship", json={"email": "nobody@example.com", "relationship": "customer"}
    )
    assert unknown.get_json()["status"] == "unknown"
