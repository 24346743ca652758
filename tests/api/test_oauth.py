"""OAuth 2.0 client credentials: a token endpoint issuing short-lived bearer tokens for API
clients, accepted beside the keys on every route, with RFC 6749 errors."""

import base64
from datetime import date, timedelta

import pytest

from portal.core.console import client_admin
from portal.core.integrations import clients
from portal.core.kernel import clock
from tests.api.conftest import TERMS

TOKEN = "/api/v1/oauth/token"


@pytest.fixture
def frozen():
    clock.freeze(clock.now().replace(microsecond=0))
    yield
    clock.freeze(None)


def basic(client_id, secret) -> dict:
    pair = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def ask(client, client_id, secret, scope=None, in_body=False):
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    if in_body:
        form.update(client_id=str(client_id), client_secret=secret)
        return client.post(TOKEN, data=form)
    return client.post(TOKEN, data=form, headers=basic(client_id, secret))


def call(client, token, path="/webhooks"):
    return client.get("/api/v1" + path, headers={"Authorization": f"Bearer {token}"})


def test_a_client_gets_a_short_lived_token_that_opens_the_api(app, client, demo):
    app.config["API_TOKEN_SECONDS"] = 600
    made, key = clients.create(
        "luxe", "CRM", ["events:read", "consent:read"], terms=(TERMS, date(2025, 1, 15))
    )
    answer = ask(client, made.id, key)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.get_json()
    assert body["token_type"].lower() == "bearer" and body["expires_in"] == 600
    assert sorted(body["scope"].split()) == ["consent:read", "events:read"]
    assert key not in body["access_token"]
    assert call(client, body["access_token"]).status_code == 200
    # The form's client_secret_post works as well as HTTP Basic.
    posted = ask(client, made.id, key, in_body=True)
    assert (
        posted.status_code == 200
        and call(client, posted.get_json()["access_token"]).status_code == 200
    )


def test_scopes_are_narrowed_to_the_ones_asked_and_held(client, demo):
    made, key = clients.create(
        "luxe", "CRM", ["events:read", "consent:read"], terms=(TERMS, date(2025, 1, 15))
    )
    answer = ask(client, made.id, key, scope="consent:read consent:write")
    assert answer.status_code == 200 and answer.get_json()["scope"] == "consent:read"
    token = answer.get_json()["access_token"]
    denied = call(client, token)  # /webhooks needs events:read, which this token lacks
    assert denied.status_code == 403 and denied.get_json()["type"].endswith("missing-scope")
    unknown = ask(client, made.id, key, scope="everything")
    assert unknown.status_code == 400 and unknown.get_json()["error"] == "invalid_scope"


@pytest.mark.parametrize(
    "how, error, status",
    [
        ("wrong secret", "invalid_client", 401),
        ("unknown client", "invalid_client", 401),
        ("another client's key", "invalid_client", 401),
        ("wrong grant", "unsupported_grant_type", 400),
        ("no grant", "unsupported_grant_type", 400),
    ],
)
def test_refusals_are_rfc_6749_errors(client, demo, how, error, status):
    made, key = clients.create("luxe", "CRM", ["events:read"])
    _, other = clients.create("luxe", "Shop", ["events:read"])
    form = {"grant_type": "client_credentials"}
    client_id, secret = str(made.id), key
    if how == "wrong secret":
        secret = key[:-2] + "xx"
    elif how == "unknown client":
        client_id = "999999"
    elif how == "another client's key":
        secret = other
    elif how == "wrong grant":
        form["grant_type"] = "password"
    elif how == "no grant":
        form.pop("grant_type")
    answer = client.post(TOKEN, data=form, headers=basic(client_id, secret))
    assert answer.status_code == status
    assert answer.mimetype == "application/json" and answer.get_json()["error"] == error
    assert "access_token" not in answer.get_json()


def test_forged_or_truncated_tokens_are_refused(app, client, demo, frozen):
    app.config["API_TOKEN_SECONDS"] = 60
    made, key = clients.create("luxe", "CRM", ["events:read"])
    token = ask(client, made.id, key).get_json()["access_token"]
    assert call(client, token).status_code == 200
    clock.freeze(clock.now() + timedelta(seconds=30))
    # Forged or truncated tokens are refused like a missing key.
    assert call(client, token[:-3] + "abc").status_code == 401
    assert call(client, token + "x").status_code == 401
    assert call(client, "not.a.token").status_code == 401


def test_tokens_expire(app, client, demo, monkeypatch):
    import time

    app.config["API_TOKEN_SECONDS"] = 60
    made, key = clients.create("luxe", "CRM", ["events:read"])
    token = ask(client, made.id, key).get_json()["access_token"]
    assert call(client, token).status_code == 200
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert call(client, token).status_code == 401


def test_a_token_of_the_previous_key_ends_when_that_key_is_retired(app, client, demo):
    made, old = clients.create("luxe", "CRM", ["events:read"])
    with app.test_request_context():
        new = client_admin.rotate_key(None, made, 24)
    old_token = ask(client, made.id, old).get_json()["access_token"]
    new_token = ask(client, made.id, new).get_json()["access_token"]
    assert call(client, old_token).status_code == 200 and call(client, new_token).status_code == 200
    with app.test_request_context():
        client_admin.retire_key(None, made)
    assert call(client, old_token).status_code == 401
    assert call(client, new_token).status_code == 200
    assert ask(client, made.id, old).get_json()["error"] == "invalid_client"
    clients.revoke(made.id)
    assert call(client, new_token).status_code == 401
    assert ask(client, made.id, new).get_json()["error"] == "invalid_client"


def test_a_token_signed_by_another_installation_is_refused(app, client, demo):
    made, key = clients.create("luxe", "CRM", ["events:read"])
    token = ask(client, made.id, key).get_json()["access_token"]
    app.config["SECRET_KEY"] = "another installation's secret key, long enough"
    assert call(client, token).status_code == 401
