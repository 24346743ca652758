"""A person proves an entry of their export without the portal: the proof it carries, checked
by ``portal/core/consent/merkle.py`` loaded on its own, as the README tells an auditor to."""

import copy
import importlib.util
import json
from pathlib import Path

from jsonschema import Draft202012Validator

from portal.core.consent import anchors
from portal.core.consent import changes as consent
from portal.core.consent.changes import Origin
from portal.core.kernel.models.group import Topic
from portal.core.people import export, subjects
from portal.extensions import db
from tests.actions import confirm, confirmation_link, deliver, sign_up
from tests.core.test_ledger import KEY, PUBLIC

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "portal/static/schemas/export-v1.schema.json").read_text())


def _standalone():
    """merkle.py as a person would run it: one file, outside the portal's package."""
    spec = importlib.util.spec_from_file_location(
        "check_ledger_proof", ROOT / "portal/core/consent/merkle.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _exported(client, smtp, group_id):
    sign_up(client, "proof@example.com")
    deliver()
    confirm(client, confirmation_link(smtp.messages[0]))
    return subjects.find(group_id, "proof@example.com")


def test_every_sealed_entry_of_an_export_proves_itself_against_a_signed_anchor(
    app, client, demo, smtp
):
    app.config["LEDGER_SIGNING_KEY"] = KEY
    person = _exported(client, smtp, demo.id)
    sign_up(client, "someone.else@example.com")  # other leaves in the same tree
    deliver()
    anchors.seal()
    data = json.loads(export.as_json(person))
    Draft202012Validator(SCHEMA).validate(data)
    proofs = [receipt["ledgerProof"] for receipt in data["receipts"]]
    assert [p["sealed"] for p in proofs] == [True] * 4
    assert {p["anchor"]["count"] for p in proofs} == {6}
    checker = _standalone()
    for receipt, proof in zip(data["receipts"], proofs, strict=True):
        assert proof["entryHash"] == receipt["consentReceiptID"]
        assert proof["hashedFields"]["action"] == receipt["action"]
        assert checker.check_proof(proof, PUBLIC) == []

    forged = copy.deepcopy(proofs[2])
    forged["hashedFields"]["action"] = "withdrawn"
    assert checker.check_proof(forged, PUBLIC) == ["the entry's fields do not give its hash"]
    moved = copy.deepcopy(proofs[2])
    moved["leafIndex"] = proofs[3]["leafIndex"]
    assert checker.check_proof(moved) == ["the audit path does not lead to the anchor's root"]
    other_person = copy.deepcopy(proofs[2])
    other_person["subjectId"] += 1
    assert checker.check_proof(other_person) == [
        "the personal part is not the one the entry's hash covers"
    ]
    assert checker.check_proof(proofs[2], anchors.new_key()[1]) == [
        "the anchor is not signed by this key"
    ]


def test_an_entry_not_sealed_yet_says_so(client, demo, smtp):
    person = _exported(client, smtp, demo.id)
    anchors.seal()
    news = db.session.get(Topic, 1)
    consent.withdraw(person, news, "email", Origin(source="preference_centre", actor="subject"))
    db.session.commit()
    data = json.loads(export.as_json(person))
    Draft202012Validator(SCHEMA).validate(data)
    last = data["receipts"][-1]["ledgerProof"]
    assert (data["receipts"][-1]["action"], last["sealed"]) == ("withdrawn", False)
    assert _standalone().check_proof(last) == ["the entry is not sealed under an anchor yet"]
    assert all(r["ledgerProof"]["sealed"] for r in data["receipts"][:-1])
