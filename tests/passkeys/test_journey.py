"""Adding, using and removing a passkey, through the JSON steps the page's script takes."""

import pytest
from flask_babel import refresh

from portal.config import from_environment
from portal.core.people import access, subjects
from portal.core.people.models.passkey import Passkey
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


def test_the_relying_party_comes_from_configuration(app, client, demo, person):
    app.config["PASSKEY_RP_ID"] = "luxe.example"
    app.config["PASSKEY_ORIGINS"] = ["https://www.luxe.example", "https://luxe.example"]
    options = post_json(client, f"{BASE}/new/options", {"name": "x"}, f"{BASE}/").get_json()
    assert options["rp"] == {"id": "luxe.example", "name": demo.name}
    assert options["attestation"] == "none"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["user"]["name"] == ADDRESS
    assert options["user"]["id"] not in (ADDRESS, str(person.id))
    unlisted = Authenticator(origin="http://portal.test", rp_id="luxe.example")
    assert add_passkey(client, unlisted).status_code == 400
    other_site = Authenticator(origin="https://luxe.example", rp_id="portal.test")
    assert add_passkey(client, other_site).status_code == 400
    listed = Authenticator(origin="https://luxe.example", rp_id="luxe.example")
    assert add_passkey(client, listed).status_code == 200


def test_configuration_reads_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PASSKEY_RP_ID", " luxe.example ")
    monkeypatch.setenv("PASSKEY_ORIGINS", "https://luxe.example/, ,https://www.luxe.example")
    config = from_environment(str(tmp_path))
    assert config["PASSKEY_RP_ID"] == "luxe.example"
    assert config["PASSKEY_ORIGINS"] == ["https://luxe.example", "https://www.luxe.example"]


@pytest.mark.parametrize(
    ("language", "sign_in", "manage"),
    [
        ("fr", "Se connecter avec une clé d'accès", "Ajouter une clé d'accès"),
        ("de", "Mit einem Passkey anmelden", "Passkey hinzufügen"),
    ],
)
def test_the_pages_speak_the_person_s_language(client, person, language, sign_in, manage):
    refresh()  # the test's app context outlives requests: forget the English of the last one
    assert manage in client.get(f"{BASE}/?lang={language}").get_data(as_text=True)
    sign_out(client)
    page = client.get(f"/luxe/preferences/sign-in?lang={language}").get_data(as_text=True)
    assert sign_in in page
    assert 'autocomplete="email webauthn"' in page  # the browser may offer passkeys as autofill
