"""Passkeys are personal data: in My data, in both downloads, and erased with the person."""

import io
import json
import zipfile

from jsonschema import Draft202012Validator
from sqlalchemy import func, select, text

from portal.core.consent.models import LedgerEntry
from portal.core.people import key_migration, subjects
from portal.core.people.models.erasure import ErasureRecord
from portal.core.people.models.passkey import Passkey, PasskeyChallenge
from portal.extensions import db
from tests.actions import PAGE, ask_erasure, signed_in
from tests.conftest import csrf_token
from tests.core.test_encryption import _raw_database_text
from tests.passkeys.authenticator import Authenticator
from tests.passkeys.helpers import BASE, add_passkey, post_json, sign_in_with, sign_out
from tests.selfservice.test_download import SCHEMA

ADDRESS = "data@example.com"


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_my_data_lists_passkeys_with_when_added_and_used(client, smtp, demo):
    signed_in(client, smtp, ADDRESS)
    assert "You have no passkey yet." in client.get(PAGE).get_data(as_text=True)
    laptop = Authenticator()
    add_passkey(client, laptop, name="Laptop")
    add_passkey(client, Authenticator(), name="Phone")
    sign_out(client)
    sign_in_with(client, laptop)
    page = client.get(PAGE).get_data(as_text=True)
    assert "<td>Laptop</td>" in page and "<td>Phone</td>" in page
    assert page.count("Never") == 1  # the phone was never used to sign in
    assert "Passkeys are erased with the rest of your data." in page


def test_both_downloads_hold_the_passkeys_and_say_they_are_erased(client, smtp, demo):
    signed_in(client, smtp, ADDRESS)
    device = Authenticator()
    add_passkey(client, device, name="Laptop")
    data = json.loads(client.get(f"{PAGE}download.json").get_data())
    Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(data)
    [passkey] = data["passkeys"]
    assert passkey["name"] == "Laptop"
    assert passkey["credentialId"] == device.get({"challenge": ""})["rawId"]
    assert passkey["lastUsedAt"] is None and passkey["erasedWithYou"] is True
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"{PAGE}download.zip").get_data()))
    assert "Laptop" in archive.read("passkeys.csv").decode()
    assert "erased with the rest" in archive.read("README.txt").decode()


def test_erasure_removes_every_passkey_and_leaves_the_ledger_alone(client, smtp, demo):
    signed_in(client, smtp, "stays@example.com")
    add_passkey(client, Authenticator(), name="Someone else's")
    signed_in(client, smtp, ADDRESS)
    ledger_rows = _count(LedgerEntry)
    laptop, phone = Authenticator(), Authenticator()
    add_passkey(client, laptop, name="Laptop")
    add_passkey(client, phone, name="Phone")
    post_json(client, f"{BASE}/new/options", {"name": "Tablet"}, f"{BASE}/")  # left unanswered
    sign_out(client)
    sign_in_with(client, laptop)
    assert _count(LedgerEntry) == ledger_rows  # passkeys are not consents: the ledger is silent

    explained = client.get(f"{PAGE}erase").get_data(as_text=True)
    assert "your passkeys" in explained
    link = ask_erasure(client, smtp, ADDRESS)
    page = client.get(link).get_data(as_text=True)
    done = client.post(link, data={"csrf_token": csrf_token(page)}).get_data(as_text=True)
    assert "Passkeys erased" in done

    assert subjects.find(demo.id, ADDRESS) is None
    assert [p.name for p in db.session.scalars(select(Passkey))] == ["Someone else's"]
    assert _count(PasskeyChallenge) == 0
    record = db.session.scalar(select(ErasureRecord))
    assert record.counts["passkey"] == 2 and record.counts["passkey_challenge"] == 1
    assert _count(LedgerEntry) == ledger_rows + record.counts["consents_withdrawn"]
    for device in (laptop, phone):
        assert sign_in_with(client, device).status_code == 404


def test_a_passkey_name_is_kept_under_the_persons_own_key(client, smtp, demo):
    """The name describes the person ("Marie's phone"): not in clear in the row, and names
    written before per-person keys are moved under the key by `flask keys per-person`."""
    signed_in(client, smtp, ADDRESS)
    add_passkey(client, Authenticator(), name="Marie-Passkey-Marker")
    raw = db.session.execute(text("SELECT name, label FROM passkey")).one()
    assert raw.name is None and b"Marie-Passkey-Marker" not in bytes(raw.label)
    assert b"Marie-Passkey-Marker" not in _raw_database_text().encode()
    # A name from before: in clear, read as it is until the command moves it.
    db.session.execute(text("UPDATE passkey SET label = NULL, name = 'Old-Name-Marker'"))
    db.session.commit()
    db.session.expire_all()
    assert db.session.scalar(select(Passkey)).name == "Old-Name-Marker"
    assert key_migration.waiting() == 1
    key_migration.give_keys()
    db.session.expire_all()
    assert db.session.execute(text("SELECT name FROM passkey")).scalar() is None
    assert db.session.scalar(select(Passkey)).name == "Old-Name-Marker"
    assert key_migration.waiting() == 0
    assert "<td>Old-Name-Marker</td>" in client.get(PAGE).get_data(as_text=True)
