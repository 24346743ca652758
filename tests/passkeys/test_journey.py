"""Adding, using and removing a passkey, through the JSON steps the page's script takes."""

import pytest

from portal.core import access, subjects
from portal.core.models import Passkey
from portal.extensions import db
from tests.actions import subscribed
from tests.conftest import csrf_token
from tests.passkeys.authenticator import Authenticator
from tests.passkeys.helpers import BASE, add_passkey, post_json, sign_in_with, sign_out
from tests.selfservice.helpers import signed_in

ADDRESS = "passkey@example.com"


@pytest.fixture
def person(client, smtp, demo):
    signed_in(client, smtp, ADDRESS)
    return subjects.find(demo.id, ADDRESS)


def test_add_a_named_passkey_then_see_it_listed(client, person):
    added = add_passkey(client, Authenticator(), name="  My   phone ")
    assert added.status_code == 200
    assert added.get_json() == {"redirect": f"{BASE}/?done=added"}
    page = client.get(f"{BASE}/?done=added").get_data(as_text=True)
    assert "Your passkey is added." in page
    assert "<td>My phone</td>" in page
    assert "Never" in page  # not used yet
    my_data = client.get("/luxe/my-data/").get_data(as_text=True)
    assert "<td>My phone</td>" in my_data


def test_a_name_is_needed_and_short(client, person):
    for name, message in [
        ("   ", "Give this passkey a name"),
        ("x" * 61, "The name is too long"),
    ]:
        answer = post_json(client, f"{BASE}/new/options", {"name": name}, f"{BASE}/")
        assert answer.status_code == 422
        assert answer.mimetype == "application/problem+json"
        assert answer.get_json()["field"] == "name"
        assert message in answer.get_json()["detail"]
    assert db.session.query(Passkey).count() == 0


def test_signing_in_with_a_passkey_gives_the_full_level(client, person):
    authenticator = Authenticator()
    add_passkey(client, authenticator)
    sign_out(client)
    assert client.get("/luxe/my-data/").status_code == 302

    answer = sign_in_with(client, authenticator, next_path="/luxe/my-data/")
    assert answer.status_code == 200
    assert answer.get_json() == {"redirect": "/luxe/my-data/"}
    page = client.get("/luxe/my-data/")
    assert page.status_code == 200  # a sensitive page: no "Confirm it is you" on the way
    assert ADDRESS in page.get_data(as_text=True)
    listed = client.get(f"{BASE}/").get_data(as_text=True)
    assert "Never" not in listed  # last used: now


def test_without_next_the_passkey_opens_the_centre_and_refuses_elsewhere(client, person):
    authenticator = Authenticator()
    add_passkey(client, authenticator)
    sign_out(client)
    answer = sign_in_with(client, authenticator, next_path="https://evil.example/")
    assert answer.get_json() == {"redirect": "/luxe/preferences/"}


def test_a_removed_passkey_no_longer_signs_in(client, person):
    authenticator = Authenticator()
    add_passkey(client, authenticator)
    passkey = db.session.query(Passkey).one()
    page = client.get(f"{BASE}/").get_data(as_text=True)
    removed = client.post(f"{BASE}/{passkey.id}/remove", data={"csrf_token": csrf_token(page)})
    assert removed.status_code == 303
    assert "The passkey is removed" in client.get(removed.location).get_data(as_text=True)
    assert db.session.query(Passkey).count() == 0
    sign_out(client)
    refused = sign_in_with(client, authenticator)
    assert refused.status_code == 404
    assert "not known here" in refused.get_json()["detail"]
    assert client.get("/luxe/my-data/").status_code == 302  # still signed out


def test_adding_one_needs_a_fresh_magic_link(client, smtp, demo):
    subscribed(client, smtp, "footer@example.com")
    footer = access.manage_token(subjects.find(demo.id, "footer@example.com"))
    client.get(f"/luxe/preferences/manage/{footer}")  # a mail's footer link: subscriptions only
    page = client.get(f"{BASE}/")
    assert page.status_code == 302 and "confirm-it-is-you" in page.location
    answer = post_json(client, f"{BASE}/new/options", {"name": "x"}, "/luxe/preferences/")
    assert answer.status_code == 403
    assert db.session.query(Passkey).count() == 0


def test_someone_else_s_passkey_cannot_be_removed(client, smtp, demo, person):
    add_passkey(client, Authenticator())
    theirs = db.session.query(Passkey).one()
    sign_out(client)
    signed_in(client, smtp, "other@example.com")
    page = client.get(f"{BASE}/").get_data(as_text=True)
    answer = client.post(f"{BASE}/{theirs.id}/remove", data={"csrf_token": csrf_token(page)})
    assert answer.status_code == 404
    assert "This passkey was already removed." in answer.get_data(as_text=True)
    assert db.session.query(Passkey).count() == 1
