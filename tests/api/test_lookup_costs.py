"""What a single lookup no longer pays for, and what it still guarantees: its answer, its
rate limit shared with every other instance, and a key retired elsewhere stopping in time."""

import uuid

import pytest
from limits import parse
from limits.storage import storage_from_string
from sqlalchemy import event, select, update

from portal.core.integrations import clients
from portal.core.integrations.models.api import ApiClient
from portal.extensions import LEASED, KnownWindow, db, limiter
from tests.api.conftest import NOW
from tests.api.test_consent import signed_up


def _statements():
    """Every statement SQLAlchemy sends while the list is watched (session or engine)."""
    sent = []

    def record(conn, cursor, statement, *args):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    return sent, lambda: event.remove(db.engine, "before_cursor_execute", record)


def test_a_lookup_answers_alike_without_the_session_on_postgresql(api, client, smtp):
    signed_up(client, smtp, "ada@example.org")
    first = api.post("/consents/lookup", json={"email": "ada@example.org"}).json  # last use
    subject_id = first["subject_id"]
    db.session.close()  # as in a server: no transaction left open in the app context
    sent, stop = _statements()
    try:
        by_email = api.post("/consents/lookup", json={"email": "ADA@example.org"})
        by_id = api.get(f"/subjects/{subject_id}/consents")
    finally:
        stop()
    assert by_email.status_code == by_id.status_code == 200
    assert by_email.json == by_id.json == first
    assert [c["since"][-6:] for c in by_id.json["consents"]] == ["+00:00", "+00:00"]
    assert by_id.headers["Content-Type"] == "application/json"
    if db.engine.dialect.name == "postgresql":
        # Read on a pooled connection of their own, in autocommit: no BEGIN, no ROLLBACK, and
        # no statement through SQLAlchemy's session or engine at all.
        assert sent == []
        held = [db.engine.connect() for _ in range(db.engine.pool.size())]
        try:  # every connection went back to the pool transactional, as the others expect
            assert all(not c.connection.dbapi_connection.autocommit for c in held)
        finally:
            for connection in held:
                connection.close()
    else:
        assert any("FROM subject" in statement for statement in sent)


def test_an_unknown_subject_is_still_a_404_problem(api):
    db.session.close()
    answer = api.get("/subjects/424242/consents")
    assert answer.status_code == 404
    assert answer.mimetype == "application/problem+json"


@pytest.fixture
def shared_redis(monkeypatch):
    """The app's limiter counting in Redis, as in production; what another instance sharing
    that Redis would count with is the second value."""
    prefix = f"test-instances-{uuid.uuid4().hex}"
    storage = storage_from_string("redis://127.0.0.1:6379", key_prefix=prefix)
    monkeypatch.setattr(limiter, "_storage", storage)
    monkeypatch.setattr(limiter, "_limiter", KnownWindow(storage))
    yield KnownWindow(storage_from_string("redis://127.0.0.1:6379", key_prefix=prefix))
    storage.reset()


def test_a_clients_limit_is_one_count_across_instances(app, api, shared_redis):
    app.config["RATELIMIT_API"] = "5 per minute"
    other = shared_redis
    counted_as = (app.config["RATELIMIT_KEY_PREFIX"], f"{LEASED}{api.id}", "api.events")
    item = parse("5 per minute")
    assert all(other.hit(item, *counted_as) for _ in range(3))  # three requests elsewhere
    assert [api.get("/events").status_code for _ in range(2)] == [200, 200]
    refused = api.get("/events")
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert not other.hit(item, *counted_as)  # and the other instance sees the limit used up
    # Another endpoint has a window of its own, as before.
    assert api.get("/brands").status_code == 200


def test_with_limits_off_nothing_is_counted(app, api):
    app.config["RATELIMIT_API"] = "1 per minute"
    app.config["RATELIMIT_ENABLED"] = False
    assert [api.get("/events").status_code for _ in range(3)] == [200, 200, 200]


def test_a_key_retired_on_another_server_stops_within_the_cache_time(app, api, monkeypatch):
    """Rotation: the old key works through the overlap; retired on another server (in the
    database), this process stops accepting it within API_KEY_CACHE_SECONDS, while the new
    key works at once."""
    now = [1000.0]
    monkeypatch.setattr(clients.time, "monotonic", lambda: now[0])
    client = db.session.scalar(select(ApiClient).where(ApiClient.id == api.id))
    new_key = clients.rotate(client)
    db.session.commit()
    old = api.key
    assert api.get("/events").status_code == 200  # the old key, remembered from now on
    db.session.execute(
        update(ApiClient)
        .where(ApiClient.id == api.id)
        .values(previous_key_prefix=None, previous_key_hash=None, previous_key_until=NOW)
    )
    db.session.commit()
    now[0] += app.config["API_KEY_CACHE_SECONDS"] - 0.5
    assert api.get("/events").status_code == 200
    now[0] += 1
    assert api.get("/events").status_code == 401
    api.key = new_key
    assert api.get("/events").status_code == 200
    api.key = old
    assert api.get("/events").status_code == 401


def test_a_remembered_client_cannot_be_changed_by_a_request(api):
    api.get("/events")
    remembered = next(client for _, client in clients._recent.values() if client.id == api.id)
    with pytest.raises(AttributeError):
        remembered.revoked_at = NOW
    assert remembered.group.slug == "luxe"
