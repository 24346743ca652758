"""Workers stop cleanly on SIGTERM, as systemd and container platforms ask: idle or in the
middle of a batch, each exits within seconds and hands back what it had claimed.

The workers run as real processes (`flask outbox work`, `flask webhooks work`) on the test's
database, and are signalled as a supervisor would, many times at varied moments: a handler
that takes a lock (``Event.set``) hangs only now and then, when the signal lands inside
``Event.wait``. Each is forked from a process that imported the app once
(``forking_worker``): importing it again for every start was most of these tests' time.
"""

import asyncio
import json
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
# Seconds a worker may take to exit after SIGTERM. Generous, for a machine busy with other
# work: what is caught is a worker that does not exit at all (a handler stuck on a lock).
EXIT_WITHIN = 60


@pytest.fixture(scope="session")
def forker():
    """The process the workers are forked from (see ``forking_worker``), one per run."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.ops.forking_worker"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    yield process
    process.stdin.close()
    process.wait(timeout=EXIT_WITHIN)
    process.stdout.close()


class Worker:
    """A running `flask ...` command: its pid, its output file and, once it ended, its exit
    code file."""

    def __init__(self, pid: int, output: Path):
        self.pid, self.output = pid, output
        self.exit = Path(f"{output}.exit")

    def returncode(self) -> int | None:
        return int(self.exit.read_text()) if self.exit.exists() else None


def start(forker, database_url: str, tmp_path, *command: str, **settings: str) -> Worker:
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
    output = tmp_path / f"worker-{time.monotonic_ns()}.out"
    forker.stdin.write(json.dumps([list(command), env, str(output)]) + "\n")
    forker.stdin.flush()
    return Worker(int(forker.stdout.readline()), output)


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


def stop(worker: Worker) -> str:
    """SIGTERM, then the worker's output; fails unless it exits, cleanly."""
    os.kill(worker.pid, signal.SIGTERM)
    deadline = time.monotonic() + EXIT_WITHIN
    while worker.returncode() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if worker.returncode() is None:
        os.kill(worker.pid, signal.SIGKILL)
        wait_for(lambda: worker.returncode() is not None)
        pytest.fail(f"the worker was still running {EXIT_WITHIN} seconds after SIGTERM")
    output = worker.output.read_text()
    assert worker.returncode() == 0, output
    return output


@pytest.mark.parametrize(
    "command, kind, name",
    [
        (("outbox", "work", "--interval", "0.2"), "mail", "outbox worker"),
        (("webhooks", "work", "--interval", "0.2"), "webhooks", "webhook worker"),
    ],
)
def test_an_idle_worker_stops_at_once_on_sigterm_every_time(
    app, forker, database_url, tmp_path, command, kind, name
):
    db.session.remove()
    for attempt in range(3):
        worker = start(forker, database_url, tmp_path, *command)
        try:
            wait_for(alive(kind))
            time.sleep(0.05 * attempt)  # a different moment of the loop each time
        finally:
            output = stop(worker)
        assert f"{name} stopped" in output
        db.session.remove()
        assert heartbeat.last_seen(kind) is None  # it said goodbye


def test_the_mail_worker_stopped_mid_batch_hands_back_what_it_did_not_send(
    app, client, demo, smtp, forker, database_url, tmp_path, monkeypatch
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
        forker,
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
