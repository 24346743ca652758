"""A client's own ids for subjects: attached, found by, carried in its events, erased with the
person, listed in the person's export; never seen by another client."""

import json

from sqlalchemy import func, select

from portal.core.integrations import webhooks
from portal.core.integrations.models.api import ExternalId
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
