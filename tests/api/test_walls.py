"""A client limited to some brands learns nothing of a person who is only with other brands.

Every route of the API (taken from the URL map, so a new route fails here until it has a
case) answers about such a person byte for byte as about an address nobody holds, and about
their subject id as about an id nobody holds.
"""

from sqlalchemy import func, select

from portal.core.people import subjects
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.api.conftest import capture

HIDDEN, NOBODY = "hidden@example.org", "nobody@example.org"
ADDRESS, SUBJECT_ID = "<address>", 2_000_000_000  # what answers are compared with


NO_REQUEST = "00000000-0000-4000-8000-000000000000"


def _cases(email: str, subject_id: int, hook_id: int, request_id: str = NO_REQUEST) -> dict:
    """(method, rule) -> (path, JSON body or None): each route asked about one person."""
    withdrawal = capture(email=email, topic="news", channel="email", action="withdraw")
    audience = {"brand": "camille", "topic": "news", "channel": "email", "emails": [email]}
    return {
        ("POST", "/api/v1/consents/lookup"): ("/consents/lookup", {"email": email}),
        ("GET", "/api/v1/subjects/<int:subject_id>/consents"): (
            f"/subjects/{subject_id}/consents",
            None,
        ),
        ("POST", "/api/v1/consents/check"): ("/consents/check", audience),
        ("POST", "/api/v1/consents"): ("/consents", withdrawal),
        ("POST", "/api/v1/consents/bulk"): (
            "/consents/bulk",
            {"changes": [{"key": f"wall-{email}", **withdrawal}]},
        ),
        ("POST", "/api/v1/subjects/erasures"): ("/subjects/erasures", {"email": email}),
        ("POST", "/api/v1/subjects/relationship"): (
            "/subjects/relationship",
            {"email": email, "relationship": "customer"},
        ),
        ("PUT", "/api/v1/subjects/<int:subject_id>/external-id"): (
            f"/subjects/{subject_id}/external-id",
            {"external_id": "WALL-1"},
        ),
        # By the client's own id: it could give none to a person it cannot see.
        ("GET", "/api/v1/subjects/external/<external_id>/consents"): (
            "/subjects/external/WALL-1/consents",
            None,
        ),
        ("GET", "/api/v1/subjects/<int:subject_id>/profile"): (
            f"/subjects/{subject_id}/profile",
            None,
        ),
        ("PATCH", "/api/v1/subjects/<int:subject_id>/profile"): (
            f"/subjects/{subject_id}/profile",
            {"first_name": "Wall"},
        ),
        ("GET", "/api/v1/events"): ("/events", None),
        ("GET", "/api/v1/webhooks"): ("/webhooks", None),
        ("POST", "/api/v1/webhooks"): (
            "/webhooks",
            {"url": "https://hooks.example/again", "events": ["subject.erased"]},
        ),
        ("DELETE", "/api/v1/webhooks/<int:endpoint_id>"): (f"/webhooks/{hook_id + 1000}", None),
        ("GET", "/api/v1/webhooks/<int:endpoint_id>/deliveries"): (
            f"/webhooks/{hook_id}/deliveries",
            None,
        ),
        # Endpoint operations are about the client's own endpoints, never a person.
        ("POST", "/api/v1/webhooks/<int:endpoint_id>/ping"): (
            f"/webhooks/{hook_id + 1000}/ping",
            None,
        ),
        ("POST", "/api/v1/webhooks/<int:endpoint_id>/secret"): (
            f"/webhooks/{hook_id + 1000}/secret",
            None,
        ),
        ("POST", "/api/v1/webhooks/<int:endpoint_id>/redeliveries"): (
            f"/webhooks/{hook_id + 1000}/redeliveries",
            {"since": "2025-01-01T00:00:00Z"},
        ),
        ("POST", "/api/v1/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/redelivery"): (
            f"/webhooks/{hook_id + 1000}/deliveries/1/redelivery",
            None,
        ),
        ("POST", "/api/v1/oauth/token"): ("/oauth/token", {"grant_type": "client_credentials"}),
        ("POST", "/api/v1/erasures/<request_id>/acknowledgement"): (
            f"/erasures/{request_id}/acknowledgement",
            {"answer": "done"},
        ),
        # Discovery is about brands, never a person: the same document (and ETag) either way.
        ("GET", "/api/v1/brands"): ("/brands", None),
        ("GET", "/api/v1/topics"): ("/topics", None),
        ("GET", "/api/v1/consent-texts"): ("/consent-texts", None),
        ("GET", "/api/v1/openapi.json"): ("/openapi.json", None),
        ("GET", "/api/v1/docs"): ("/docs", None),
    }


# The same request by id, for the routes that also take one.
BY_ID = {
    "/subjects/erasures": lambda subject_id: {"subject_id": subject_id},
    "/subjects/relationship": lambda subject_id: {
        "subject_id": subject_id,
        "relationship": "customer",
    },
}


def _api_rules(app) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def _seen(app, api, method: str, path: str, body, email: str, subject_id: int) -> tuple:
    """Status, headers and body of one answer, with the person's address and id masked."""
    send = {"GET": api.get, "POST": api.post, "PUT": api.put, "PATCH": api.patch}.get(
        method, api.delete
    )
    with app.app_context():  # a request's own context, as in a server: nothing left in g
        answer = send(path, json=body) if method in ("POST", "PUT", "PATCH") else send(path)
    text = answer.get_data(as_text=True)
    text = text.replace(email, ADDRESS).replace(f"/subjects/{subject_id}/", "/subjects/<id>/")
    # Each answer has its own request id, rate-limit count and (conditional answers) Date,
    # whoever it is about.
    varying = ("Content-Length", "X-Request-ID", "Date")
    headers = sorted(
        (k, v) for k, v in answer.headers.items() if k not in varying and "RateLimit" not in k
    )
    return answer.status_code, headers, text


def _answers(app, api, email: str, subject_id: int, hook_id: int, request_id=NO_REQUEST) -> dict:
    answers = {}
    cases = _cases(email, subject_id, hook_id, request_id)
    for (method, rule), (path, body) in sorted(cases.items()):
        if method == "POST" and rule.endswith("/webhooks"):
            continue  # creating a webhook is about no person, and each answer is a new one
        answers[method, rule] = _seen(app, api, method, path, body, email, subject_id)
        if path in BY_ID:
            by_id = BY_ID[path](subject_id)
            answers[method, rule, "id"] = _seen(app, api, method, path, by_id, email, subject_id)
    return answers


def test_a_person_only_at_other_brands_reads_like_nobody_on_every_route(app, demo, make_api, smtp):
    assert _api_rules(app) == set(_cases(NOBODY, 1, 1)), "a route of the API has no case here"
    group = make_api(name="group")
    camille = make_api(name="camille", brands=["camille"])
    hook_id = camille.post(
        "/webhooks", json={"url": "https://hooks.example/x", "events": ["subject.erased"]}
    ).json["id"]
    # Someone of camille's own, so the answers are not empty throughout.
    camille.post("/consents", json=capture(email="own@example.org", topic="news", channel="sms"))
    ghost = db.session.scalar(select(func.max(Subject.id))) + 2
    nobody = _answers(app, camille, NOBODY, ghost, hook_id)

    # Now people with other brands only: one who stays, one erased by the group's client.
    group.post("/consents", json=capture(email=HIDDEN, brand="aurele", topic="events"))
    group.post("/consents", json=capture(email="gone@example.org", brand="aurele", topic="events"))
    assert group.post("/subjects/erasures", json={"email": "gone@example.org"}).status_code == 200
    hidden_id = subjects.find(demo.id, HIDDEN).id
    # The group's client was asked to erase its copy of the erased person: camille's client
    # cannot answer that request (nor learn that it exists).
    asked = [e for e in group.get("/events").json["events"] if e["type"] == "erasure.requested"]
    hidden = _answers(
        app, camille, HIDDEN, hidden_id, hook_id, asked[0]["data"]["erasure_request_id"]
    )

    for key in nobody:
        (status, headers, body), (status_0, headers_0, body_0) = hidden[key], nobody[key]
        assert status == status_0, key
        assert set(headers) ^ set(headers_0) == set(), key
        assert body == body_0, key
    # Nothing was changed for the hidden person by what camille's client asked.
    assert (
        group.post("/consents/lookup", json={"email": HIDDEN}).json["consents"][0]["state"]
        == "granted"
    )


def test_a_grant_makes_the_person_one_the_client_sees(make_api, smtp):
    """A grant is the one answer that may name the person: from then on the client sees them
    (a consent at its brand), and the answer is otherwise the one for a new address."""
    group = make_api(name="group")
    camille = make_api(name="camille", brands=["camille"])
    group.post("/consents", json=capture(email=HIDDEN, brand="aurele", topic="events"))
    grant = capture(topic="events", channel="sms")
    new = camille.post("/consents", json={**grant, "email": NOBODY}).json
    known = camille.post("/consents", json={**grant, "email": HIDDEN}).json
    # Each write has its own receipt; neither tells anything of the other brands' writes.
    assert len(known["receipt"]) == len(new["receipt"]) == 64
    assert known["receipt"] != new["receipt"]
    blind = {"subject_id": None, "receipt": None}
    assert {**known, **blind} == {**new, **blind}
    mine = camille.post("/consents/lookup", json={"email": HIDDEN}).json
    assert mine["subject_id"] == known["subject_id"]
    assert [c["brand"] for c in mine["consents"]] == ["camille"]
