"""Load-balancer probes, metrics and `flask doctor`."""

from datetime import timedelta

from sqlalchemy import text, update

from portal.core.kernel import clock, heartbeat
from portal.core.mail import outbox
from portal.core.mail.models import OutboxMessage
from portal.extensions import db


def test_healthz_and_readyz(client, demo):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok", "migrations": "ok", "outbox": "ok"}


def test_readyz_fails_when_the_worker_falls_behind(app, client, demo):
    app.config["READY_MAX_BACKLOG"] = 1
    for n in range(2):
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
    from portal.extensions import db

    db.session.commit()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["outbox"] == "2 waiting (limit 1)"


def test_metrics_are_guarded_by_the_token(app, client, demo):
    app.config["METRICS_TOKEN"] = "s3cret-token"
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    client.get("/luxe/")
    body = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}).get_data(
        as_text=True
    )
    assert 'portal_requests_total{method="GET",route="/<group>/",status="200"}' in body
    assert "portal_outbox_backlog 0.0" in body
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
