"""A client never sees or changes anything outside its group and brands: 403, 404 or 422."""

from datetime import date

from sqlalchemy import func, select

from portal.core.consent.models import LedgerEntry
from portal.core.integrations import clients
from portal.core.integrations.models.event import Event
from portal.extensions import db
from tests.api.conftest import TERMS, Api, capture
from tests.core.test_isolation import make_group


def test_another_group_is_out_of_reach(client, api, smtp):
    make_group("other")
    scopes = ["consent:read", "consent:write", "events:read"]
    _, key = clients.create("other", "Their CRM", scopes, terms=(TERMS, date(2025, 1, 15)))
    theirs = Api(client, key)
    # Our demo group has a subject with a consent, an event and a webhook.
    mine = api.post("/consents", json=capture()).json
    hook = api.post("/webhooks", json={"url": "https://h.example/x", "events": ["consent.changed"]})
    hook_id = hook.json["id"]

    lookup = theirs.post("/consents/lookup", json={"email": "ada@example.org"}).json
    assert lookup == {"status": "unknown", "subject_id": None, "consents": []}
    assert theirs.get(f"/subjects/{mine['subject_id']}/consents").status_code == 404
    check = theirs.post(
        "/consents/check",
        json={
            "brand": "camille",
            "topic": "events",
            "channel": "sms",
            "emails": ["ada@example.org"],
        },
    )
    assert check.status_code == 422  # their camille has no "events" topic: ours is not reachable
    assert theirs.get("/events").json["events"] == []
    assert theirs.get("/webhooks").json["webhooks"] == []
    assert theirs.get(f"/webhooks/{hook_id}/deliveries").status_code == 404
    assert theirs.delete(f"/webhooks/{hook_id}").status_code == 404
    write = theirs.post("/consents", json=capture(topic="events"))
    assert write.status_code == 422
    # Our data is as it was.
    assert len(api.get("/webhooks").json["webhooks"]) == 1
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1


def test_a_client_limited_to_some_brands_sees_only_them(make_api):
    everything = make_api(name="group")
    camille_only = make_api(name="camille", brands=["camille"])
    aurele = everything.post("/consents", json=capture(brand="aurele", topic="events")).json
    assert (
        camille_only.post("/consents/lookup", json={"email": "ada@example.org"}).json["status"]
        == "unknown"
    )
    assert camille_only.get(f"/subjects/{aurele['subject_id']}/consents").status_code == 404
    assert camille_only.get("/events").json["events"] == []
    for path, body in [
        ("/consents", capture(brand="aurele", topic="events")),
        (
            "/consents/check",
            {"brand": "aurele", "topic": "events", "channel": "sms", "emails": ["ada@example.org"]},
        ),
    ]:
        answer = camille_only.post(path, json=body)
        assert answer.status_code == 422, answer.json
        assert answer.json["errors"][0]["field"] == "brand"
    assert db.session.scalar(select(func.count()).select_from(Event)) == 1
    # At its own brand the same person is visible, and only that brand's consents.
    camille_only.post("/consents", json=capture())
    mine = camille_only.post("/consents/lookup", json={"email": "ada@example.org"}).json
    assert [c["brand"] for c in mine["consents"]] == ["camille"]
    assert [e["data"]["brand"] for e in camille_only.get("/events").json["events"]] == ["camille"]
