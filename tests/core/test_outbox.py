"""The outbox: never sent in a request, never lost, never taken by two workers."""

import json
import socket
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from portal.core.kernel import clock, leases, partitions
from portal.core.mail import envelope, outbox
from portal.core.mail.models import OutboxMessage
from portal.extensions import db
from tests.actions import at_once


def _queue(count: int, group_id: int) -> None:
    for n in range(count):
        outbox.queue(
            group_id,
            None,
            "test",
            to=f"r{n}@example.com",
            sender=["S", "s@example.com"],
            subject=f"Message {n}",
            text="text",
            html="<p>html</p>",
        )
    db.session.commit()


def test_two_workers_never_take_the_same_row(app, demo, smtp):
    _queue(40, demo.id)
    results, errors = at_once(app, lambda: outbox.send_all(batch=5))
    assert errors == []
    assert sum(result.sent for result in results) == 40
    recipients = [message["To"] for message in smtp.messages]
    assert sorted(recipients) == sorted(f"r{n}@example.com" for n in range(40))


def test_a_refused_message_is_kept_and_retried_with_back_off(app, demo, smtp):
    _queue(1, demo.id)
    smtp.stop()
    start = clock.now()
    clock.freeze(start)
    assert outbox.send_all().retrying == 1
    row = db.session.scalar(select(OutboxMessage))
    db.session.refresh(row)
    assert row.status == "queued" and row.attempts == 1
    assert "r0@example.com" not in row.last_error  # errors are kept without the address
    assert (row.next_attempt_at - start).total_seconds() == 30
    clock.freeze(start + leases.backoff(1))
    assert outbox.send_all().retrying == 1
    db.session.refresh(row)
    assert (row.next_attempt_at - clock.now()).total_seconds() == 60


def test_after_the_last_attempt_the_row_is_kept_as_failed(app, demo, smtp):
    app.config["OUTBOX_MAX_ATTEMPTS"] = 2
    _queue(1, demo.id)
    smtp.stop()
    outbox.send_all()
    clock.freeze(clock.now() + leases.backoff(1))
    assert outbox.send_all().failed == 1
    row = db.session.scalar(select(OutboxMessage))
    db.session.refresh(row)
    assert row.status == "failed"
    smtp.start()
    assert outbox.retry_failed() == 1
    assert outbox.send_all().sent == 1
    assert len(smtp.messages) == 1


def test_cli_send_reports_what_it_did(runner, demo, smtp):
    _queue(2, demo.id)
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0
    assert "sent 2, to retry 0, failed 0, queued 0" in result.output


def test_a_server_that_never_answers_costs_one_timeout_not_the_worker(app, demo, monkeypatch):
    """A server that takes the connection and then says nothing: without a timeout the worker
    would wait for good while its batch's leases ran out and other workers sent it again."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)  # the kernel completes the connection; nobody ever greets
    try:
        monkeypatch.setattr(app.extensions["mail"], "port", silent.getsockname()[1])
        app.config["MAIL_TIMEOUT_SECONDS"] = 0.5
        _queue(2, demo.id)
        started = time.monotonic()
        result = outbox.send_all()
        assert time.monotonic() - started < 10
    finally:
        silent.close()
    assert result.retrying == 2 and result.sent == 0
    rows = db.session.scalars(select(OutboxMessage)).all()
    assert all(row.status == "queued" and "timed out" in row.last_error for row in rows)


def test_a_batch_starts_no_message_its_lease_cannot_cover(app, demo, smtp, monkeypatch):
    """Slow sends: once the lease no longer covers a whole send (six timeouts), the rest of
    the batch goes back to the queue at once rather than being sent after the lease ended,
    when another worker may already have taken it."""
    app.config.update(OUTBOX_LEASE_SECONDS=10, MAIL_TIMEOUT_SECONDS=1)  # 4 s to start sends
    _queue(4, demo.id)
    start = clock.now()
    clock.freeze(start)
    send = envelope.send

    def slow(*args):
        send(*args)
        clock.freeze(clock.now() + timedelta(seconds=3))

    monkeypatch.setattr(envelope, "send", slow)
    assert outbox.send_due(limit=4, owner="w1").sent == 2  # started at 0 s and 3 s
    rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [row.status for row in rows] == ["sent", "sent", "queued", "queued"]
    assert all(row.lease_owner is None for row in rows[2:])  # free for any worker now
    assert outbox.send_due(limit=4, owner="w2").sent == 2
    assert len(smtp.messages) == 4


def test_a_delivered_mail_keeps_only_its_sender_and_goes_after_the_keep_days(app, demo, smtp):
    """Rendered mail holds the address and live links: it is dropped once delivered, and the
    row itself once OUTBOX_KEEP_DAYS have passed, a bounded batch per lifecycle run."""
    start = clock.now()
    clock.freeze(start)
    _queue(3, demo.id)
    assert outbox.send_all().sent == 3
    assert "Message 0" in smtp.messages[0]["Subject"]  # what was delivered was whole
    for row in db.session.scalars(select(OutboxMessage)):
        db.session.refresh(row)
        assert json.loads(row.content) == {"sender": ["S", "s@example.com"]}
    _queue(1, demo.id)  # still waiting: never purged
    app.config["OUTBOX_KEEP_DAYS"] = 30
    clock.freeze(start + timedelta(days=30))
    assert outbox.purge() == 0  # not older than the keep days yet
    # A second later; on PostgreSQL, where whole days go, at the end of that day.
    past = start + timedelta(days=30, seconds=1)
    if partitions.is_postgresql(db.session.get_bind()):
        clock.freeze(partitions.day(past) - timedelta(seconds=1))
        assert outbox.purge() == 0
        past = partitions.day(past) + timedelta(days=1)
    clock.freeze(past)
    assert outbox.purge(batch=2) == 2 and outbox.purge(batch=2) == 1
    assert [row.status for row in db.session.scalars(select(OutboxMessage))] == ["queued"]


def test_whole_days_of_mail_go_after_the_keep_days_once_none_waits(app, demo, smtp):
    """On PostgreSQL a day of mail is dropped whole (no row deleted alone), once every mail of
    it was sent more than OUTBOX_KEEP_DAYS ago; SQLite deletes the rows."""
    app.config["OUTBOX_KEEP_DAYS"] = 30
    # A day after the upgrade: the days before are the table as it was (``_plegacy``).
    start = partitions.day(datetime.now(UTC)) + timedelta(days=5, hours=12)
    clock.freeze(start)
    _queue(3, demo.id)
    partitions.make_ahead(start)  # the day, with the mails the default partition caught
    assert outbox.send_all().sent == 3
    _queue(1, demo.id)
    later = start + timedelta(days=31)

    def run():  # as `flask lifecycle run` does: whole days, then rows
        dropped, kept = outbox.rotate(later)
        return dropped + outbox.purge(later), kept

    postgresql = partitions.is_postgresql(db.session.get_bind())
    # One mail still waits: its day is kept back (PostgreSQL), the others' rows go.
    assert run() == (3, 1 if postgresql else 0)
    assert outbox.send_all().sent == 1  # sent on the same day, long ago by ``later``
    assert run() == (1, 0)
    assert db.session.scalars(select(OutboxMessage)).all() == []
    if postgresql:
        names = partitions.partition_names(db.session.connection())
        assert f"outbox_message_p{start:%Y%m%d}" not in names
