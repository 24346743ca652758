"""Keys, scopes, errors as problem details, rate limits, and the command line."""

import pytest
from sqlalchemy import select, update

from portal.core.integrations import clients
from portal.core.integrations.models.api import ApiClient
from portal.extensions import db
from tests.api.conftest import NOW, Api, capture

ENDPOINTS = [
    ("post", "/consents/lookup", "consent:read", {"email": "a@example.org"}),
    ("get", "/subjects/1/consents", "consent:read", None),
    (
        "post",
        "/consents/check",
        "consent:read",
        {"brand": "camille", "topic": "news", "channel": "email", "emails": ["a@example.org"]},
    ),
    ("post", "/consents", "consent:write", capture()),
    ("get", "/events", "events:read", None),
    ("get", "/webhooks", "events:read", None),
    (
        "post",
        "/webhooks",
        "events:read",
        {"url": "https://h.example/x", "events": ["consent.changed"]},
    ),
    ("delete", "/webhooks/1", "events:read", None),
    ("get", "/webhooks/1/deliveries", "events:read", None),
]


def call(api, method, path, body):
    return getattr(api, method)(path, json=body) if body is not None else getattr(api, method)(path)


@pytest.mark.parametrize("method,path,scope,body", ENDPOINTS)
def test_every_endpoint_needs_a_valid_key(client, demo, method, path, scope, body):
    for key in (None, "cp_nothing.wrong", "Basic abc"):
        answer = call(Api(client, key), method, path, body)
        assert answer.status_code == 401
        assert answer.mimetype == "application/problem+json"
        assert answer.json["status"] == 401
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("method,path,scope,body", ENDPOINTS)
def test_every_endpoint_needs_its_scope(make_api, method, path, scope, body):
    others = [
        s for s in ("consent:read", "consent:write", "subjects:erase", "events:read") if s != scope
    ]
    answer = call(make_api(scopes=others), method, path, body)
    assert answer.status_code == 403
    assert answer.json["type"].endswith("missing-scope")


def test_a_revoked_key_stops_working_at_once(api, runner):
    assert api.get("/events").status_code == 200
    client_id = db.session.scalar(select(ApiClient.id))
    result = runner.invoke(args=["api-clients", "revoke", str(client_id)])
    assert result.exit_code == 0, result.output
    assert api.get("/events").status_code == 401


def _revoked_elsewhere():
    """Revoke the client as another app server would: in the database, not in this process."""
    db.session.execute(update(ApiClient).values(revoked_at=NOW))
    db.session.commit()


def test_a_key_revoked_on_another_server_stops_working_within_the_cache_time(app, api, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(clients.time, "monotonic", lambda: now[0])
    assert api.get("/events").status_code == 200
    _revoked_elsewhere()
    now[0] += app.config["API_KEY_CACHE_SECONDS"] - 0.5
    assert api.get("/events").status_code == 200  # remembered by this process, for a moment
    now[0] += 1
    assert api.get("/events").status_code == 401
    assert api.get("/events").status_code == 401


def test_with_no_cache_time_every_request_checks_the_key(app, api):
    app.config["API_KEY_CACHE_SECONDS"] = 0
    assert api.get("/events").status_code == 200
    _revoked_elsewhere()
    assert api.get("/events").status_code == 401


def test_a_remembered_client_keeps_its_scopes_and_brands(make_api):
    reader = make_api(scopes=["consent:read"], brands=["camille"])
    for _ in range(3):  # the first request looks the key up, the others use what it remembered
        assert reader.get("/events").status_code == 403
        answer = reader.post(
            "/consents/check",
            json={"brand": "aurele", "topic": "news", "channel": "email", "emails": ["a@b.cd"]},
        )
        assert answer.status_code == 422
        assert "aurele" in answer.json["detail"]


def test_last_use_is_recorded(api):
    assert db.session.scalar(select(ApiClient.last_used_at)) is None
    api.get("/events")
    db.session.expire_all()
    assert db.session.scalar(select(ApiClient.last_used_at)) is not None


def _create_client(runner, name: str, brand: str):
    """``flask api-clients create`` for a reading client of one brand of the demo group."""
    args = ["api-clients", "create", "--group", "luxe", "--name", name, "--brand", brand]
    terms = ["--terms", "Reads consent for the till only.", "--terms-date", "2025-01-15"]
    return runner.invoke(args=[*args, "--scope", "consent:read", *terms])


def test_the_key_is_shown_once_and_stored_only_as_a_hash(runner, demo, client):
    result = _create_client(runner, "Till", "camille")
    assert result.exit_code == 0, result.output
    key = result.output.split("key (shown once): ")[1].strip()
    row = db.session.scalar(select(ApiClient))
    assert key not in (row.key_hash, row.key_prefix) and row.key_prefix in key
    assert Api(client, key).post("/consents/lookup", json={"email": "a@b.org"}).status_code == 200
    listing = runner.invoke(args=["api-clients", "list"]).output
    assert "Till" in listing and key not in listing
    bad = _create_client(runner, "X", "nope")
    assert bad.exit_code != 0 and "nope" in bad.output


def test_the_demo_key_works_and_replaces_the_last_one(runner, demo, client):
    first = runner.invoke(args=["api-clients", "demo-key"]).output.strip()
    second = runner.invoke(args=["api-clients", "demo-key"]).output.strip()
    assert Api(client, second).get("/events").status_code == 200
    assert Api(client, first).get("/events").status_code == 401


@pytest.mark.parametrize(
    "headers,data,status",
    [
        ({"Content-Type": "text/plain"}, b'{"email": "a@b.org"}', 415),
        ({"Content-Type": "application/json"}, b'{"email": ', 400),
        ({"Content-Type": "application/json"}, b'{"email": 5}', 422),
        ({"Content-Type": "application/json"}, b'{"email": "a@b.org", "more": 1}', 422),
        ({"Content-Type": "application/json"}, b"[]", 422),
        ({"Content-Type": "application/json"}, b"\xff\xfe", 400),
    ],
)
def test_bad_bodies_get_problem_details(api, headers, data, status):
    answer = api.client.post("/api/v1/consents/lookup", data=data, headers=api.headers(headers))
    assert answer.status_code == status
    assert answer.mimetype == "application/problem+json"
    assert answer.json["status"] == status


def test_oversized_bodies_are_refused_before_reading(app, api):
    app.config["API_MAX_BODY"] = 1000
    answer = api.post("/consents/lookup", json={"email": "a" * 2000 + "@b.org"})
    assert answer.status_code == 413
    assert answer.mimetype == "application/problem+json"


def test_unknown_paths_and_methods_are_problem_details(api):
    missing = api.get("/nothing-here")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    wrong = api.client.put("/api/v1/consents", headers=api.headers())
    assert wrong.status_code == 405 and wrong.mimetype == "application/problem+json"
    assert "POST" in wrong.headers["Allow"]


def test_each_client_has_its_own_rate_limit(app, make_api):
    app.config["RATELIMIT_API"] = "3 per minute"
    busy, calm = make_api(name="busy"), make_api(name="calm")
    statuses = [busy.get("/events").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = busy.get("/events")
    assert limited.mimetype == "application/problem+json"
    assert int(limited.headers["Retry-After"]) > 0
    assert calm.get("/events").status_code == 200


def test_clients_are_created_only_with_known_scopes(demo):
    with pytest.raises(ValueError):
        clients.create("luxe", "X", ["consent:everything"])
