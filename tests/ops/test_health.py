"""Load-balancer probes, metrics and `flask doctor`."""

import math
from datetime import timedelta

from sqlalchemy import text, update

from portal.core.console import gauges
from portal.core.kernel import clock, heartbeat
from portal.core.mail import outbox
from portal.core.mail.models import OutboxMessage
from portal.extensions import db
from tests.actions import at_once


def _queue(demo, count: int) -> None:
    for n in range(count):
        outbox.queue(
            demo.id,
            None,
            "t",
            to=f"{n}@example.com",
            sender=["a", "a@example.com"],
            subject="s",
            text="t",
            html="h",
        )
    db.session.commit()


def test_healthz_and_readyz(client, demo):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok", "migrations": "ok"}


def test_readyz_speaks_for_this_instance_not_for_the_backlog_nor_the_worker(app, client, demo):
    _queue(demo, 3)  # mail waiting and no worker seen: every server would drop out at once
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"


def _metrics(client) -> dict[str, float]:
    body = client.get("/metrics").get_data(as_text=True)
    return {
        line.split()[0]: float(line.split()[1])
        for line in body.splitlines()
        if line.startswith("portal_") and "{" not in line.split()[0]
    }


def test_database_figures_are_computed_by_one_worker_per_interval(app, client, demo):
    app.config["METRICS_INTERVAL_SECONDS"] = 60
    start = clock.now()
    clock.freeze(start)
    assert "portal_outbox_backlog" not in _metrics(client)  # nothing computed yet
    assert math.isnan(_metrics(client)["portal_figures_age_seconds"])
    _queue(demo, 2)
    assert gauges.refresh_due(60) is True
    assert gauges.refresh_due(60) is False  # another worker, in the same interval
    clock.freeze(start + timedelta(seconds=30))
    _queue(demo, 1)
    figures = _metrics(client)
    assert figures["portal_outbox_backlog"] == 2  # as computed, not counted by the scrape
    assert figures["portal_figures_age_seconds"] == 30
    assert figures["portal_outbox_oldest_seconds"] == 30
    clock.freeze(start + timedelta(seconds=61))
    assert gauges.refresh_due(60) is True
    figures = _metrics(client)
    assert figures["portal_outbox_backlog"] == 3 and figures["portal_figures_age_seconds"] == 0
    assert math.isnan(figures["portal_worker_last_seen_seconds"])
    heartbeat.beat("w1")
    clock.freeze(start + timedelta(seconds=65))
    assert _metrics(client)["portal_worker_last_seen_seconds"] == 4


def test_two_workers_at_once_compute_the_figures_once(app, demo):
    results, errors = at_once(app, lambda: gauges.refresh_due(60), workers=4)
    assert errors == [] and sorted(results) == [False, False, False, True]


def test_metrics_are_guarded_by_the_token(app, client, demo):
    app.config["METRICS_TOKEN"] = "s3cret-token"
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    client.get("/luxe/")
    body = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}).get_data(
        as_text=True
    )
    assert 'portal_requests_total{method="GET",route="/<group>/",status="200"}' in body
    assert "portal_worker_last_seen_seconds" in body
    assert "portal_request_seconds_bucket" in body


def test_metrics_without_token_only_from_loopback(app, client, demo):
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    far = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.5"})
    assert far.status_code == 404


def test_doctor_says_what_is_wrong_in_plain_words(app, runner, demo, smtp):
    heartbeat.beat("worker-1")
    assert runner.invoke(args=["doctor"]).output.startswith("All good")
    smtp.stop()
    result = runner.invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "cannot be used" in result.output and "mail waits in the outbox" in result.output


def test_doctor_names_a_ledger_signing_key_that_is_no_key(app, runner, demo, smtp):
    heartbeat.beat("worker-1")
    app.config["LEDGER_SIGNING_KEY"] = "not-hex"
    result = runner.invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "LEDGER_SIGNING_KEY must be 64 hex digits" in result.output


def test_doctor_fails_when_no_worker_runs_or_mail_fails(app, runner, demo, smtp):
    never = runner.invoke(args=["doctor"])
    assert never.exit_code == 1 and "no worker is running" in never.output
    heartbeat.beat("worker-1")
    assert runner.invoke(args=["doctor"]).exit_code == 0
    clock.freeze(clock.now() + timedelta(seconds=app.config["WORKER_STALE_SECONDS"] + 1))
    stale = runner.invoke(args=["doctor"])
    assert stale.exit_code == 1 and "no worker has been seen since" in stale.output
    heartbeat.beat("worker-1")
    outbox.queue(
        demo.id,
        None,
        "t",
        to="a@example.com",
        sender=["a", "a@example.com"],
        subject="s",
        text="t",
        html="h",
    )
    db.session.commit()
    db.session.execute(
        update(OutboxMessage).values(attempts=1, last_error="SMTPServerDisconnected")
    )
    db.session.commit()
    failing = runner.invoke(args=["doctor"])
    assert (
        failing.exit_code == 1 and "mail is failing: 1 messages wait for a retry" in failing.output
    )
    assert "SMTPServerDisconnected" in failing.output
    heartbeat.stopped("worker-1")
    assert "no worker is running" in runner.invoke(args=["doctor"]).output


def test_doctor_names_people_not_yet_under_a_key_of_their_own(app, runner, demo, smtp):
    from tests.factories import member

    heartbeat.beat("worker-1")
    member("early@example.com")
    assert runner.invoke(args=["doctor"]).exit_code == 0
    db.session.execute(text("UPDATE subject SET key_ref = NULL"))  # as before the upgrade
    db.session.commit()
    result = runner.invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "1 people are still under the data key alone" in result.output
    assert "flask keys per-person" in result.output
