"""`flask webhooks work`, a worker apart from the mail worker, stopped by SIGTERM in the middle
of a batch: the delivery under way is finished and recorded, the rest handed back at once."""

import time

from sqlalchemy import select

from portal.core.integrations.models.api import WebhookDelivery
from portal.extensions import db
from tests.api import test_webhooks
from tests.api.conftest import capture
from tests.api.test_webhooks import register
from tests.ops import test_worker_stop
from tests.ops.test_worker_stop import start, stop, wait_for

receiver = test_webhooks.receiver  # the fixture: a real receiver on loopback
forker = test_worker_stop.forker  # the fixture: workers forked from one import of the app


def test_a_worker_stopped_mid_batch_finishes_the_delivery_under_way_and_hands_back_the_rest(
    app, api, receiver, forker, database_url, tmp_path
):
    receiver.start()
    register(api, receiver)
    for number in range(6):
        api.post("/consents", json=capture(email=f"p{number}@example.org"))
    receiver.on_request = lambda: time.sleep(0.5)  # a slow receiver: the batch takes seconds
    db.session.remove()
    worker = start(forker, database_url, tmp_path, "webhooks", "work", "--interval", "0.2")
    try:
        wait_for(lambda: len(receiver.peers) >= 2)
    finally:
        output = stop(worker)
    assert "webhook worker stopped" in output
    db.session.remove()
    rows = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    delivered = [row for row in rows if row.status == "delivered"]
    assert 2 <= len(delivered) < 6  # the one under way was finished and recorded
    assert len(receiver.received) == len(delivered)  # and no other was sent
    assert all(row.lease_owner is None and row.lease_until is None for row in rows)
    assert all(row.status == "queued" and row.attempts == 0 for row in rows if row not in delivered)


def test_doctor_names_a_missing_webhook_worker_only_when_deliveries_wait(
    app, api, receiver, runner, smtp
):
    from portal.core.integrations import webhooks
    from portal.core.kernel import heartbeat

    heartbeat.beat("mail-1")  # the mail worker runs
    assert runner.invoke(args=["doctor"]).exit_code == 0  # no webhooks: none needed
    receiver.start()
    register(api, receiver)
    api.post("/consents", json=capture())
    result = runner.invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "1 webhook deliveries wait and none has been seen" in result.output
    assert "flask webhooks work" in result.output
    heartbeat.beat("hooks-1", "webhooks")
    assert runner.invoke(args=["doctor"]).exit_code == 0
    heartbeat.stopped("hooks-1")
    webhooks.deliver_all()  # nothing waits any more
    assert runner.invoke(args=["doctor"]).exit_code == 0
