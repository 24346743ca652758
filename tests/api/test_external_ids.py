"""A client's own ids for subjects: attached, found by, carried in its events, erased with the
person, listed in the person's export; never seen by another client."""

import json

import pytest
from sqlalchemy import func, select, text

from portal.core.integrations import external_ids, webhooks
from portal.core.integrations.models.api import ExternalId
from portal.core.kernel import heartbeat, subject_keys
from portal.core.kernel.crypto import KeyMissing, keys, personal_ref
from portal.core.people import export, subjects
from portal.extensions import db
from tests.api.conftest import capture
from tests.api.test_webhooks import receiver, register  # noqa: F401 - the fixture


def granted(api, email="ada@example.org", **overrides) -> int:
    return api.post("/consents", json=capture(email=email, **overrides)).json["subject_id"]


def test_a_client_attaches_its_id_and_finds_the_person_by_it(make_api):
    crm, till = make_api(name="crm"), make_api(name="till")
    ada, bob = granted(crm), granted(crm, "bob@example.org")
    answer = crm.put(f"/subjects/{ada}/external-id", json={"external_id": "CRM-0042"})
    assert answer.status_code == 200
    assert answer.json == {"subject_id": ada, "external_id": "CRM-0042"}
    found = crm.get("/subjects/external/CRM-0042/consents")
    assert found.status_code == 200
    assert (found.json["subject_id"], found.json["external_id"]) == (ada, "CRM-0042")
    assert found.json["consents"][0]["topic"] == "events"
    # Setting it again is harmless; giving it to another person is a conflict.
    assert (
        crm.put(f"/subjects/{ada}/external-id", json={"external_id": "CRM-0042"}).status_code == 200
    )
    taken = crm.put(f"/subjects/{bob}/external-id", json={"external_id": "CRM-0042"})
    assert taken.status_code == 409
    assert taken.json["type"].endswith("/external-id-taken")
    # Another client's ids are its own: the same value names someone else there, or no one.
    assert till.get("/subjects/external/CRM-0042/consents").status_code == 404
    assert (
        till.put(f"/subjects/{bob}/external-id", json={"external_id": "CRM-0042"}).status_code
        == 200
    )
    assert till.get("/subjects/external/CRM-0042/consents").json["subject_id"] == bob
    # A new id replaces the old one.
    crm.put(f"/subjects/{ada}/external-id", json={"external_id": "CRM-0043"})
    assert crm.get("/subjects/external/CRM-0042/consents").status_code == 404


def test_nobody_the_client_cannot_see_gets_its_id(make_api):
    group, camille = make_api(name="group"), make_api(name="camille", brands=["camille"])
    hidden = granted(group, brand="aurele")
    answer = camille.put(f"/subjects/{hidden}/external-id", json={"external_id": "X-1"})
    assert answer.status_code == 404
    assert (
        camille.put("/subjects/2000000000/external-id", json={"external_id": "X-1"}).json["status"]
        == 404
    )
    bad = camille.put(f"/subjects/{hidden}/external-id", json={"external_id": "a/b c"})
    assert bad.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(ExternalId)) == 0


def test_events_carry_the_id_for_the_client_that_gave_it_alone(make_api, receiver):  # noqa: F811
    crm, other = make_api(name="crm"), make_api(name="other")
    receiver.start()
    register(other, receiver)
    ada = granted(crm)
    crm.put(f"/subjects/{ada}/external-id", json={"external_id": "CRM-7"})
    crm.post("/consents", json=capture(action="withdraw", text_version=None))
    mine = [e["data"] for e in crm.get("/events").json["events"]]
    assert [d.get("external_id") for d in mine] == ["CRM-7", "CRM-7"]
    assert all("external_id" not in e["data"] for e in other.get("/events").json["events"])
    webhooks.deliver_all()
    delivered = [json.loads(body)["data"] for _, _, body in receiver.received]
    assert delivered and all("external_id" not in data for data in delivered)
    # The client that gave the id gets it in its deliveries too.
    receiver.received.clear()
    register(crm, receiver)
    crm.post("/consents", json=capture(captured_at="2025-03-01T11:58:00+00:00"))
    webhooks.deliver_all()
    bodies = [json.loads(body) for _, _, body in receiver.received]
    by_client = sorted("external_id" in b["data"] for b in bodies)
    assert by_client == [False, True]  # one delivery to each client's endpoint


def test_the_id_is_erased_with_the_person_and_listed_in_their_export(demo, api):
    ada = granted(api)
    api.put(f"/subjects/{ada}/external-id", json={"external_id": "CRM-9"})
    subject = subjects.find(demo.id, "ada@example.org")
    listed = export.document(subject)["externalIds"]
    assert [(row["system"], row["externalId"]) for row in listed] == [("CRM", "CRM-9")]
    assert api.post("/subjects/erasures", json={"subject_id": ada}).json["status"] == "erased"
    assert db.session.scalar(select(func.count()).select_from(ExternalId)) == 0
    assert api.get("/subjects/external/CRM-9/consents").status_code == 404


def _stored(row_id: int):
    """The row's columns as a copy of the database holds them."""
    return db.session.execute(
        text("SELECT value, value_hash, sealed_value FROM external_id WHERE id = :id"),
        {"id": row_id},
    ).one()


def test_the_id_is_kept_hashed_and_under_the_persons_key_never_in_clear(demo, api):
    ada = granted(api)
    api.put(f"/subjects/{ada}/external-id", json={"external_id": "CRM-QZ1"})
    row = db.session.scalar(select(ExternalId))
    clear, hashed, sealed = _stored(row.id)
    assert clear is None and b"CRM-QZ1" not in bytes(sealed)
    assert hashed == keys().keyed_hash(f"external-id:{api.id}:CRM-QZ1") and "CRM" not in hashed
    person = subjects.find(demo.id, "ada@example.org")
    assert personal_ref(bytes(sealed)) == person.key_ref
    assert api.get("/subjects/external/CRM-QZ1/consents").json["subject_id"] == ada
    # A copy of the row outlives the erasure, not the key: nothing reads it any more.
    api.post("/subjects/erasures", json={"subject_id": ada})
    subject_keys.store().forget_all()
    with pytest.raises(KeyMissing):
        keys().decrypt(bytes(sealed))


def _as_before_the_upgrade(row_id: int, value: str) -> None:
    db.session.execute(
        text(
            "UPDATE external_id SET value = :value, value_hash = NULL, sealed_value = NULL "
            "WHERE id = :id"
        ),
        {"value": value, "id": row_id},
    )
    db.session.commit()


def test_ids_written_in_clear_before_are_found_and_moved_by_flask_keys_per_person(
    demo, make_api, runner, smtp
):
    crm = make_api(name="crm")
    ada, bob = granted(crm), granted(crm, "bob@example.org")
    crm.put(f"/subjects/{ada}/external-id", json={"external_id": "OLD-1"})
    row = db.session.scalar(select(ExternalId))
    _as_before_the_upgrade(row.id, "OLD-1")
    # Still found, still unique, still in events, while waiting.
    assert crm.get("/subjects/external/OLD-1/consents").json["subject_id"] == ada
    taken = crm.put(f"/subjects/{bob}/external-id", json={"external_id": "OLD-1"})
    assert taken.status_code == 409
    assert crm.get("/events").json["events"][0]["data"]["external_id"] == "OLD-1"
    heartbeat.beat("worker-1")
    doctor = runner.invoke(args=["doctor"])
    assert doctor.exit_code == 1 and "1 people are still under the data key" in doctor.output

    moved = runner.invoke(args=["keys", "per-person"])
    assert moved.exit_code == 0, moved.output
    clear, hashed, sealed = _stored(row.id)
    assert clear is None and hashed == external_ids.value_hash(crm.id, "OLD-1")
    assert personal_ref(bytes(sealed)) == subjects.find(demo.id, "ada@example.org").key_ref
    assert crm.get("/subjects/external/OLD-1/consents").json["subject_id"] == ada
    assert crm.get("/events").json["events"][0]["data"]["external_id"] == "OLD-1"
    assert runner.invoke(args=["doctor"]).exit_code == 0
