"""Workers stop cleanly on SIGTERM, as systemd and container platforms ask: idle or in the
middle of a batch, each exits within seconds and hands back what it had claimed.

The workers run as real processes (`flask outbox work`, `flask webhooks work`) on the test's
database, and are signalled as a supervisor would, many times at varied moments: a handler
that takes a lock (``Event.set``) hangs only now and then, when the signal lands inside
``Event.wait``.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portal.core.kernel import heartbeat
from portal.extensions import db

ROOT = Path(__file__).resolve().parents[2]
EXIT_WITHIN = 5  # seconds


def start(database_url: str, tmp_path, *command: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "FLASK_APP": "portal",
        "PORTAL_ENV": "development",
        "DATABASE_URL": database_url,
        "MAILBOX_DIR": str(tmp_path / "mailbox"),
        "MAIL_TRANSPORT": "mailbox",
        "WEBHOOKS_ALLOW_INSECURE": "true",
        "LOG_JSON": "false",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(condition, patience: float = 20) -> None:
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
