"""Operating webhooks: test pings, redelivery of failed deliveries, secret rotation with two
signatures during the overlap, order per person, pooled connections, leases that outlast
their batch."""

import json
from datetime import timedelta

from sqlalchemy import select

from portal.core.console.models import AuditEntry
from portal.core.integrations import webhooks
from portal.core.integrations.models.api import WebhookDelivery
from portal.core.kernel import clock
from portal.extensions import db
from tests.actions import log_in, post
from tests.api import test_webhooks
from tests.api.conftest import capture
from tests.api.test_webhooks import register
from tests.factories import make_admin

receiver = test_webhooks.receiver  # the fixture: a real receiver on loopback


def types(receiver) -> list[str]:
    return [json.loads(body)["type"] for _, _, body in receiver.received]


def test_a_ping_through_the_api_arrives_signed_to_that_endpoint_alone(api, receiver):
    receiver.start()
    hook = register(api, receiver)
    other = api.post("/webhooks", json={"url": receiver.url + "2", "events": ["consent.changed"]})
    answer = api.post(f"/webhooks/{hook['id']}/ping")
    assert answer.status_code == 202 and answer.json["type"] == "webhook.ping"
    assert webhooks.deliver_all().sent == 1
    [(status, headers, body)] = receiver.received
    assert status == 200  # the receiver checked the signature with the endpoint's secret
    assert headers["Portal-Event-Type"] == "webhook.ping"
    assert json.loads(body)["data"] == {"endpoint_id": hook["id"]}
    assert headers["Portal-Event-Id"] == answer.json["event"]
    assert api.get("/events").json["events"] == []  # a test, not news
    assert api.post(f"/webhooks/{other.json['id']}/ping").status_code == 202
    assert api.post("/webhooks/999999/ping").status_code == 404


def test_a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends(app, api, receiver):
    receiver.start()
    hook = register(api, receiver)
    old = receiver.secret
    clock.freeze(clock.now())
    answer = api.post(f"/webhooks/{hook['id']}/secret")
    assert answer.status_code == 200
    new = answer.json["secret"]
    assert new != old and answer.json["previous_secret_until"]
    assert "secret" not in api.get("/webhooks").json["webhooks"][0]
    api.post(f"/webhooks/{hook['id']}/ping")
    webhooks.deliver_all()
    _, headers, body = receiver.received[-1]
    signature = headers["Portal-Signature"]
    assert signature.count("v1=") == 2
    now = clock.now().timestamp()
    assert webhooks.verify(old, signature, body, now) and webhooks.verify(new, signature, body, now)
    # A receiver that reads only the last v1 (a dict of the pairs) keeps working on the old one.
    last = dict(item.split("=", 1) for item in signature.split(","))
    assert webhooks.verify(old, f"t={last['t']},v1={last['v1']}", body, now)

    clock.freeze(
        clock.now() + timedelta(hours=app.config["WEBHOOK_SECRET_OVERLAP_HOURS"], seconds=1)
    )
    receiver.secret = new
    api.post(f"/webhooks/{hook['id']}/ping")
    webhooks.deliver_all()
    _, headers, body = receiver.received[-1]
    assert headers["Portal-Signature"].count("v1=") == 1
    now = clock.now().timestamp()
    assert webhooks.verify(new, headers["Portal-Signature"], body, now)
    assert not webhooks.verify(old, headers["Portal-Signature"], body, now)


def test_deliveries_about_one_person_keep_their_order(api, receiver):
    receiver.start()
    register(api, receiver)
    receiver.answers = [500]  # the first delivery fails once
    ada = api.post("/consents", json=capture(topic="news")).json["subject_id"]
    bob = api.post("/consents", json=capture(email="bob@example.org", topic="news")).json
    api.post("/consents", json=capture(topic="events"))
    result = webhooks.deliver_all()
    # Ada's second change waits for her first; Bob's is not held up by her.
    assert (result.sent, result.retrying) == (1, 1)
    seen = [(status, json.loads(body)["data"]) for status, _, body in receiver.received]
    assert [(status, data["subject_id"]) for status, data in seen] == [
        (500, ada),
        (200, bob["subject_id"]),
    ]
    clock.freeze(clock.now() + timedelta(minutes=1))
    assert webhooks.deliver_all().sent == 2
    adas = [
        json.loads(body)["data"]["topic"]
        for status, _, body in receiver.received
        if status == 200 and json.loads(body)["data"]["subject_id"] == ada
    ]
    assert adas == ["news", "events"]


def test_one_connection_carries_many_deliveries(api, receiver):
    receiver.start()
    register(api, receiver)
    for number in range(5):
        api.post("/consents", json=capture(email=f"p{number}@example.org"))
    assert webhooks.deliver_all().sent == 5
    assert len(receiver.peers) == 5 and len(set(receiver.peers)) == 1  # kept alive, pooled


def test_a_batch_never_outlasts_its_lease(app, api, receiver):
    receiver.start()
    register(api, receiver)
    for number in range(3):
        api.post("/consents", json=capture(email=f"p{number}@example.org"))
    app.config.update(OUTBOX_LEASE_SECONDS=60, WEBHOOK_DELIVERY_SECONDS=25)
    clock.freeze(clock.now())
    # Each delivery takes 40 s of the clock: after the first, what is left of the lease (20 s
    # of 60) no longer covers the longest a delivery may take (its 25 s deadline), so the
    # batch stops.
    receiver.on_request = lambda: clock.freeze(clock.now() + timedelta(seconds=40))
    result = webhooks.deliver_due(limit=10, owner="w1")
    assert result.sent == 1
    rows = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    assert [r.status for r in rows] == ["delivered", "queued", "queued"]
    assert [r.lease_owner for r in rows[1:]] == [None, None]  # handed back, due for anyone
    assert webhooks.deliver_due(limit=10, owner="w2").sent == 1


def test_failed_deliveries_are_sent_again_from_the_console_and_the_command_line(
    app, api, receiver, client, demo, runner
):
    app.config["OUTBOX_MAX_ATTEMPTS"] = 1
    hook = register(api, receiver)  # not listening: every delivery fails for good
    for number in range(3):
        api.post("/consents", json=capture(email=f"p{number}@example.org"))
    assert webhooks.deliver_all().failed == 3
    receiver.start()
    failed = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    log_in(client, make_admin(demo, "owner", "boss@luxe.example"))
    page = f"/admin/api-clients/{api.id}/webhooks/{hook['id']}"
    assert "Deliver again" in client.get(page).get_data(as_text=True)
    done = post(client, page + "/redeliver", {"delivery": str(failed[0].id)}, follow_redirects=True)
    assert "1 delivery queued again." in done.get_data(as_text=True)
    assert webhooks.deliver_all().sent == 1
    again = post(client, page + "/redeliver", {"delivery": str(failed[0].id)})
    assert again.status_code == 422  # delivered now: nothing to send again
    assert "Only a delivery that failed every attempt" in again.get_data(as_text=True)
    bad = post(client, page + "/redeliver", {"since": "yesterday"})
    assert bad.status_code == 422 and "Give the time" in bad.get_data(as_text=True)

    since = (failed[0].created_at - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    result = runner.invoke(
        args=["webhooks", "redeliver", "--endpoint", str(hook["id"]), "--since", since]
    )
    assert result.exit_code == 0 and "2 deliveries" in result.output, result.output
    assert webhooks.deliver_all().sent == 2
    assert len(receiver.received) == 3
    usage = runner.invoke(args=["webhooks", "redeliver", "--endpoint", str(hook["id"])])
    assert usage.exit_code == 2
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "webhook.redeliver")
    ).all()
    assert [e.after["count"] for e in entries] == [1, 2]
    assert [e.actor for e in entries][1] == "cli"


def test_the_console_sends_a_test_ping(api, receiver, client, demo):
    receiver.start()
    hook = register(api, receiver)
    log_in(client, make_admin(demo, "owner", "boss@luxe.example"))
    page = f"/admin/api-clients/{api.id}/webhooks/{hook['id']}"
    done = post(client, page + "/ping", follow_redirects=True)
    assert "A test ping is queued" in done.get_data(as_text=True)
    assert webhooks.deliver_all().sent == 1 and types(receiver) == ["webhook.ping"]
    assert "webhook.ping" in client.get(page).get_data(as_text=True)
    api.delete(f"/webhooks/{hook['id']}")
    assert post(client, page + "/ping").status_code == 404  # removed: nothing to test


def test_failed_deliveries_are_sent_again_through_the_api_and_audited(api, receiver, make_api):
    hook = register(api, receiver)  # not listening yet: every delivery fails for good
    api.client.application.config["OUTBOX_MAX_ATTEMPTS"] = 1
    for number in range(3):
        api.post("/consents", json=capture(email=f"p{number}@example.org"))
    assert webhooks.deliver_all().failed == 3
    receiver.start()
    failed = api.get(f"/webhooks/{hook['id']}/deliveries").json["deliveries"]
    assert {d["status"] for d in failed} == {"failed"}
    oldest = min(failed, key=lambda d: d["id"])

    one = api.post(f"/webhooks/{hook['id']}/deliveries/{oldest['id']}/redelivery")
    assert one.status_code == 202 and one.json == {"id": hook["id"], "redelivered": 1}
    assert webhooks.deliver_all().sent == 1
    again = api.post(f"/webhooks/{hook['id']}/deliveries/{oldest['id']}/redelivery")
    assert again.status_code == 409 and again.json["type"].endswith("/delivery-not-failed")

    since = api.post(f"/webhooks/{hook['id']}/redeliveries", json={"since": oldest["created_at"]})
    assert since.status_code == 202 and since.json["redelivered"] == 2
    assert webhooks.deliver_all().sent == 2 and len(receiver.received) == 3
    bad = api.post(f"/webhooks/{hook['id']}/redeliveries", json={"since": "yesterday"})
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "since"

    # Another client's endpoint or delivery is nobody's: 404, and nothing is queued.
    other = make_api(name="other")
    assert other.post(f"/webhooks/{hook['id']}/redeliveries", json=since_body()).status_code == 404
    missing = api.post(f"/webhooks/{hook['id']}/deliveries/999999/redelivery")
    assert missing.status_code == 404
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "webhook.redeliver")
    ).all()
    assert [(e.actor, e.after["count"]) for e in entries] == [("api:CRM", 1), ("api:CRM", 2)]
    assert entries[0].after["delivery"] == oldest["id"] and entries[1].after["since"]


def since_body():
    return {"since": "2025-01-01T00:00:00Z"}


def test_redelivery_needs_the_webhook_scope(api, receiver, make_api):
    hook = register(api, receiver)
    reader = make_api(name="reader", scopes=["consent:read"])
    answer = reader.post(f"/webhooks/{hook['id']}/redeliveries", json=since_body())
    assert answer.status_code == 403 and "events:read" in answer.json["detail"]
