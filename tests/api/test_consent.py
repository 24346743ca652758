"""Looking up, checking and recording consent through the API."""

from sqlalchemy import event, func, select

from portal.core.consent.ledger import personal_part
from portal.core.consent.models import LedgerEntry
from portal.core.kernel import clock
from portal.extensions import db
from tests.actions import confirm, confirmation_link, decide, deliver, sign_up
from tests.api.conftest import capture


def signed_up(client, smtp, email, brand="camille"):
    """A person who signed up on the portal and confirmed (news and events by email)."""
    sign_up(client, email, brand=brand)
    deliver()
    confirm(client, confirmation_link(smtp.to(email.lower())[-1]))


def test_an_unknown_address_is_an_answer_not_an_error(api):
    answer = api.post("/consents/lookup", json={"email": "nobody@example.org"})
    assert answer.status_code == 200
    assert answer.json == {"status": "unknown", "subject_id": None, "consents": []}


def test_lookup_by_email_shows_state_since_source_and_versions(api, client, smtp):
    signed_up(client, smtp, "Ada@Example.org")
    answer = api.post("/consents/lookup", json={"email": "ada@example.org"}).json
    assert answer["status"] == "active"
    assert [(c["brand"], c["topic"], c["channel"], c["state"]) for c in answer["consents"]] == [
        ("camille", "news", "email", "granted"),
        ("camille", "events", "email", "granted"),
    ]
    first = answer["consents"][0]
    assert first["source"] == "signup_form"
    assert first["policy_version"] == "2026-01"
    assert first["text_version"] == 1
    assert first["since"].endswith("+00:00")


def test_lookup_by_id_gives_the_same_answer(api, client, smtp):
    signed_up(client, smtp, "ada@example.org")
    by_email = api.post("/consents/lookup", json={"email": "ada@example.org"}).json
    by_id = api.get(f"/subjects/{by_email['subject_id']}/consents")
    assert by_id.status_code == 200
    assert by_id.json == by_email
    assert api.get("/subjects/999999/consents").status_code == 404


def test_the_address_stays_out_of_the_url(api):
    # Only POST with a body looks up by address; a query string is not read at all.
    assert api.get("/consents/lookup?email=ada@example.org").status_code == 405


def test_bulk_check_answers_each_address_in_order(api, client, smtp):
    signed_up(client, smtp, "granted@example.org")
    sign_up(client, "pending@example.org")
    decide()
    emails = ["pending@example.org", "GRANTED@example.org", "new@example.org", "not an address"]
    answer = api.post(
        "/consents/check",
        json={"brand": "camille", "topic": "news", "channel": "email", "emails": emails},
    )
    assert answer.status_code == 200
    assert answer.json["results"] == [
        {"email": "pending@example.org", "state": "pending", "contact": False},
        {"email": "GRANTED@example.org", "state": "granted", "contact": True},
        {"email": "new@example.org", "state": "unknown", "contact": False},
        {"email": "not an address", "state": "invalid", "contact": False},
    ]


def test_bulk_check_answers_repeats_and_many_people_in_the_order_asked(api):
    """The database meets the addresses in another order than the client's (sorted by their
    hashes, on PostgreSQL); the answers still come back one per address asked, repeats
    included, in the order asked."""
    people = [f"person{n}@example.org" for n in range(8)]
    for email in people:
        assert api.post("/consents", json=capture(email=email)).status_code == 200
    withdrawn = people[3]
    api.post("/consents", json=capture(email=withdrawn, action="withdraw", text_version=None))
    asked = [people[5], "x@nowhere.example", people[0], withdrawn, people[5], "@", *people[6:]]
    body = {"brand": "camille", "topic": "events", "channel": "sms", "emails": asked}
    answer = api.post("/consents/check", json=body)
    assert answer.status_code == 200, answer.json
    assert [(r["email"], r["state"]) for r in answer.json["results"]] == [
        (people[5], "granted"),
        ("x@nowhere.example", "unknown"),
        (people[0], "granted"),
        (withdrawn, "withdrawn"),
        (people[5], "granted"),
        ("@", "invalid"),
        (people[6], "granted"),
        (people[7], "granted"),
    ]


def test_bulk_check_of_ten_thousand_uses_a_bounded_number_of_queries(api, app):
    emails = [f"person{n}@example.org" for n in range(10_000)]
    statements = []

    def count(*args):
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        answer = api.post(
            "/consents/check",
            json={"brand": "camille", "topic": "news", "channel": "email", "emails": emails},
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert answer.status_code == 200
    assert len(answer.json["results"]) == 10_000
    assert len(statements) < 20, statements[:30]


def test_bulk_check_refuses_more_than_ten_thousand_and_unknown_topics(api):
    body = {"brand": "camille", "topic": "news", "channel": "email"}
    too_many = api.post("/consents/check", json={**body, "emails": ["a@example.org"] * 10_001})
    assert too_many.status_code == 422
    assert too_many.mimetype == "application/problem+json"
    no_topic = api.post("/consents/check", json={**body, "topic": "nope", "emails": ["a@b.org"]})
    assert no_topic.status_code == 422
    assert no_topic.json["errors"][0]["field"] == "topic"
    wrong = api.post(
        "/consents/check", json={**body, "topic": "care", "channel": "sms", "emails": ["a@b.org"]}
    )
    assert wrong.status_code == 422
    assert wrong.json["errors"][0]["field"] == "channel"


def test_recording_an_sms_grant_applies_it_with_its_evidence(api):
    answer = api.post("/consents", json=capture())
    assert answer.status_code == 200, answer.json
    assert answer.json["state"] == "granted" and answer.json["changed"] is True
    entry = db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()
    assert (entry.source, entry.actor, entry.channel, entry.action) == (
        "api",
        "api:CRM",
        "sms",
        "granted",
    )
    # The agent's name is personal (under the person's key); the capture time is not.
    assert personal_part(entry)["evidence"]["agent"] == "agent-42"
    assert entry.evidence["captured_at"] == "2025-03-01T11:55:00+00:00"
    lookup = api.post("/consents/lookup", json={"email": "ada@example.org"}).json
    assert [(c["topic"], c["channel"], c["state"], c["source"]) for c in lookup["consents"]] == [
        ("events", "sms", "granted", "api")
    ]


def test_an_email_grant_starts_double_opt_in(api, client, smtp):
    answer = api.post("/consents", json=capture(channel="email", topic="news"))
    assert answer.status_code == 202
    assert answer.json["state"] == "pending"
    deliver()
    link = confirmation_link(smtp.to("ada@example.org")[-1])
    lookup = api.post("/consents/lookup", json={"email": "ada@example.org"}).json
    assert lookup["consents"][0]["state"] == "pending"
    confirm(client, link)
    lookup = api.post("/consents/lookup", json={"email": "ada@example.org"}).json
    assert lookup["status"] == "active"
    assert lookup["consents"][0]["state"] == "granted"


def test_a_verified_source_grants_email_at_once(make_api, smtp):
    api = make_api(verified=True)
    answer = api.post("/consents", json=capture(channel="email", topic="news"))
    assert answer.status_code == 200
    assert answer.json["state"] == "granted"
    deliver()
    assert smtp.to("ada@example.org") == []


def test_a_withdrawal_applies_at_once(api, client, smtp):
    signed_up(client, smtp, "ada@example.org")
    withdrawal = capture(
        action="withdraw",
        channel="email",
        topic="news",
        text_version=None,
        captured_at=clock.now().isoformat(),  # after the sign-up, or it would be stale
    )
    answer = api.post("/consents", json=withdrawal)
    assert answer.status_code == 200
    assert answer.json["state"] == "withdrawn" and answer.json["changed"] is True
    check = api.post(
        "/consents/check",
        json={
            "brand": "camille",
            "topic": "news",
            "channel": "email",
            "emails": ["ada@example.org"],
        },
    ).json
    assert check["results"][0]["contact"] is False
    again = api.post("/consents", json=withdrawal)
    assert again.json["changed"] is False


def test_a_withdrawal_for_an_unknown_address_changes_nothing(api):
    answer = api.post("/consents", json=capture(action="withdraw", text_version=None))
    assert answer.status_code == 200
    assert answer.json["state"] == "unknown"
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


def test_recording_refuses_what_the_brand_does_not_offer(api):
    for overrides, field in [
        ({"topic": "nope"}, "topic"),
        ({"topic": "care", "channel": "sms"}, "channel"),
        ({"brand": "nope"}, "brand"),
        ({"text_version": 99}, "text_version"),
        ({"text_version": None}, "text_version"),
        ({"email": "not an address"}, "email"),
        ({"captured_at": "2999-01-01T00:00:00Z"}, "captured_at"),
        ({"captured_at": "2025-03-01T11:55:00"}, "captured_at"),
    ]:
        answer = api.post("/consents", json=capture(**overrides))
        assert answer.status_code == 422, (overrides, answer.json)
        assert answer.mimetype == "application/problem+json"
        assert answer.json["errors"][0]["field"] == field, (overrides, answer.json)
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
