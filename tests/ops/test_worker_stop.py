"""Workers stop cleanly on SIGTERM, as systemd and container platforms ask: idle or in the
middle of a batch, each exits within seconds and hands back what it had claimed.

The workers run as real processes (`flask outbox work`, `flask webhooks work`) on the test's
database, and are signalled as a supervisor would, many times at varied moments: a handler
that takes a lock (``Event.set``) hangs only now and then, when the signal lands inside
``Event.wait``.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import select

from portal.core.kernel import heartbeat
from portal.core.mail.models import AddressRequest, OutboxMessage
from portal.extensions import db
from tests.actions import sign_up

ROOT = Path(__file__).resolve().parents[2]
EXIT_WITHIN = 5  # seconds


def start(database_url: str, tmp_path, *command: str, **settings: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "FLASK_APP": "portal",
        "PORTAL_ENV": "development",
        "DATABASE_URL": database_url,
        # The test app's key store: one-off keys (a stranger's sign-up) and people's keys
        # are read from it by the worker as by any process of the installation.
        "PORTAL_KEYS_URL": current_app.config["PORTAL_KEYS_URL"],
        "MAILBOX_DIR": str(tmp_path / "mailbox"),
        "MAIL_TRANSPORT": "mailbox",
        "WEBHOOKS_ALLOW_INSECURE": "true",
        "LOG_JSON": "false",
        **settings,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(condition, patience: float = 120) -> None:
    """Until ``condition`` holds. Generous: a worker process importing the app on a machine
    busy with other work can take tens of seconds to start, and waiting costs nothing when
    it is quick; what the tests measure is the exit after SIGTERM (``stop``)."""
    deadline = time.monotonic() + patience
    while not condition():
        assert time.monotonic() < deadline, "the worker did not get there in time"
        time.sleep(0.05)


def alive(kind: str):
    def seen() -> bool:
        db.session.remove()  # a fresh look, and no transaction left open for the worker
        return heartbeat.last_seen(kind) is not None

    return seen


def stop(worker: subprocess.Popen) -> str:
    """SIGTERM, then the worker's output; fails unless it exits, cleanly, within seconds."""
    signalled = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    try:
        output, _ = worker.communicate(timeout=EXIT_WITHIN)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.communicate()
        pytest.fail("the worker was still running seconds after SIGTERM")
    assert worker.returncode == 0, output
    assert time.monotonic() - signalled < EXIT_WITHIN
    return output


@pytest.mark.parametrize(
    "command, kind, name",
    [
        (("outbox", "work", "--interval", "0.2"), "mail", "outbox worker"),
        (("webhooks", "work", "--interval", "0.2"), "webhooks", "webhook worker"),
    ],
)
def test_an_idle_worker_stops_at_once_on_sigterm_every_time(
    app, database_url, tmp_path, command, kind, name
):
    db.session.remove()
    for attempt in range(3):
        worker = start(database_url, tmp_path, *command)
        try:
            wait_for(alive(kind))
            time.sleep(0.05 * attempt)  # a different moment of the loop each time
        finally:
            output = stop(worker)
        assert f"{name} stopped" in output
        db.session.remove()
        assert heartbeat.last_seen(kind) is None  # it said goodbye


def test_the_mail_worker_stopped_mid_batch_hands_back_what_it_did_not_send(
    app, client, demo, smtp, database_url, tmp_path, monkeypatch
):
    for number in range(6):
        sign_up(client, f"p{number}@example.com")
    answer = smtp.controller.handler.handle_DATA

    async def slowly(*args):  # a slow mail server: the batch takes seconds
        await asyncio.sleep(0.5)
        return await answer(*args)

    monkeypatch.setattr(smtp.controller.handler, "handle_DATA", slowly)
    db.session.remove()
    worker = start(
        database_url,
        tmp_path,
        *("outbox", "work", "--interval", "0.2"),
        MAIL_TRANSPORT="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp.port),
    )
    try:
        wait_for(lambda: len(smtp.raw) >= 2)
    finally:
        output = stop(worker)
    assert "outbox worker stopped" in output
    db.session.remove()
    rows = db.session.scalars(select(OutboxMessage)).all()
    sent = [row for row in rows if row.status == "sent"]
    assert 2 <= len(sent) < 6 and len(smtp.raw) == len(sent)  # none sent twice or lost
    assert all(row.lease_owner is None and row.lease_until is None for row in rows)
    assert db.session.scalars(select(AddressRequest.lease_owner)).all() == []  # all decided
