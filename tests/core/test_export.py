"""The data export: valid against its published schema, complete, and the same in CSV."""

import csv
import io
import json
import zipfile
from pathlib import Path

from jsonschema import Draft202012Validator

from portal.core.consent import changes as consent
from portal.core.consent.changes import Origin
from portal.core.kernel.models.group import Topic
from portal.core.people import export, subjects
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.actions import (
    confirm,
    confirmation_link,
    deliver,
    post_profile,
    request_link,
    sign_in,
    sign_up,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "portal/static/schemas/export-v1.schema.json").read_text())


def _history(client, smtp):
    sign_up(client, "export@example.com")
    deliver()
    confirm(client, confirmation_link(smtp.messages[0]))
    subject = subjects.find(1, "export@example.com")
    news = db.session.get(Topic, 1)
    consent.withdraw(subject, news, "email", Origin(source="preference_centre", actor="subject"))
    db.session.commit()
    return subject


def test_json_export_is_valid_and_holds_every_receipt(client, demo, smtp):
    subject = _history(client, smtp)
    data = json.loads(export.as_json(subject))
    Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(data)

    assert data["subject"]["email"] == "export@example.com"
    assert {(c["topicKey"], c["state"]) for c in data["consents"]} == {
        ("news", "withdrawn"),
        ("events", "granted"),
    }
    actions = [r["action"] for r in data["receipts"]]
    assert actions == ["requested", "requested", "confirmed", "confirmed", "withdrawn"]
    confirmed = data["receipts"][2]
    assert confirmed["version"] == "KI-CR-v1.1.0"
    assert confirmed["jurisdiction"] == "EU"
    assert confirmed["piiPrincipalId"] == "export@example.com"
    assert confirmed["piiControllers"][0]["piiController"] == "Camille"
    assert confirmed["policyUrl"] == "https://camille.example/privacy"
    assert confirmed["services"][0]["purposes"][0]["purpose"] == "News"
    assert confirmed["consentText"].startswith("I agree that Camille may send me")
    assert confirmed["collectionMethod"] == "confirmation link sent by email (double opt-in)"
    assert len({r["consentReceiptID"] for r in data["receipts"]}) == 5
    assert data["signups"][0]["confirmedAt"] is not None


def test_an_invalid_export_would_fail_the_schema():
    """The schema is strict enough to catch a broken export, so the test above means something."""
    validator = Draft202012Validator(SCHEMA)
    assert not validator.is_valid({"$schema": "export-v1.schema.json", "schemaVersion": "1.0"})


def test_csv_zip_has_one_file_per_kind_of_record(client, demo, smtp):
    subject = _history(client, smtp)
    archive = zipfile.ZipFile(io.BytesIO(export.as_csv_zip(subject)))
    names = set(archive.namelist())
    assert {"subject.csv", "consents.csv", "signups.csv", "receipts.csv", "README.txt"} <= names

    def rows(name):
        return list(csv.DictReader(io.StringIO(archive.read(name).decode())))

    assert rows("subject.csv")[0]["email"] == "export@example.com"
    assert len(rows("consents.csv")) == 2
    receipts = rows("receipts.csv")
    assert [r["action"] for r in receipts][-1] == "withdrawn"
    assert "I agree that Camille" in receipts[2]["consentText"]
    assert json.loads(receipts[2]["piiControllers"])[0]["piiController"] == "Camille"


def test_the_export_lists_mails_sign_in_links_and_what_integrators_received(client, demo, smtp):
    """Art. 15(1)(c): who received the data. The mails sent to the person, the sign-in links
    (used or not), and the events integrating systems saw, a profile change with its values."""
    subject = _history(client, smtp)
    sign_in(client, smtp, "export@example.com")
    request_link(client, "export@example.com")  # a second link, never opened
    deliver()
    assert post_profile(client, first_name="Evangeline").status_code == 200
    data = json.loads(export.as_json(db.session.get(Subject, subject.id)))
    Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(data)

    assert data["schemaVersion"] == "1.2"
    kinds = [(m["kind"], m["brand"], m["status"]) for m in data["mails"]]
    assert kinds[:2] == [("confirm_signup", "Camille", "sent"), ("sign_in", "Camille", "sent")]
    assert all(m["sentAt"] for m in data["mails"] if m["status"] == "sent")
    assert [link["used"] for link in data["signInLinks"]] == [True, False]
    types = [e["type"] for e in data["events"]]
    assert "consent.changed" in types
    changed = [e for e in data["events"] if e["type"] == "profile.updated"]
    assert changed and "Evangeline" in json.dumps([e["data"] for e in changed])
    with zipfile.ZipFile(io.BytesIO(export.as_csv_zip(subject))) as archive:
        assert {"mails.csv", "signInLinks.csv", "events.csv"} <= set(archive.namelist())
        assert "Evangeline" in archive.read("events.csv").decode()
