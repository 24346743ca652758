"""The loop of a long-running worker (`flask outbox work`, `flask webhooks work`) and how it
stops on SIGTERM or Ctrl-C.

The signal handler only sets a flag. A handler that takes a lock (``threading.Event.set``
does) can wait for ever when the signal lands while the main thread holds that same lock
inside ``Event.wait``: a worker then ignores SIGTERM until SIGKILL. The loop reads the flag
between passes and sleeps in short steps; a pass reads it between deliveries and hands back
what it had claimed and not started, and the worker releases every lease it still holds as it
leaves, so another worker takes those rows at once instead of after the lease.
"""

import signal
import time
from collections.abc import Callable

import click

from portal.core.kernel import heartbeat
from portal.extensions import db

STEP = 0.1  # seconds: how soon a sleeping worker notices it was asked to stop


class Stop:
    """Whether the worker was asked to stop; callable, so passes can ask it as they go."""

    def __init__(self):
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, signum, frame) -> None:
        self.requested = True  # nothing else: see the module's docstring

    def install(self) -> dict:
        """Handle SIGTERM and SIGINT; returns the handlers before, for ``restore``."""
        before = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
        for number in before:
            signal.signal(number, self._handle)
        return before

    @staticmethod
    def restore(before: dict) -> None:
        for number, handler in before.items():
            signal.signal(number, handler)

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.requested:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, STEP))


def run(
    name: str,
    worker: str,
    kind: str,
    one_pass: Callable[[Stop], tuple[int, bool]],
    release: Callable[[], None],
    interval: float,
) -> None:
    """Run ``one_pass`` until SIGTERM or Ctrl-C, writing a heartbeat before each pass.

    ``one_pass(stop)`` answers (rows handled, more work waiting); the loop sleeps ``interval``
    when it did nothing. ``release`` hands back the worker's leases as it stops.
    """
    stop = Stop()
    before = stop.install()
    click.echo(f"{name} {worker} started")
    while not stop():
        busy = False
        try:
            heartbeat.beat(worker, kind)
            handled, busy = one_pass(stop)
        except Exception as error:  # noqa: BLE001 - a database hiccup must not end the worker
            db.session.rollback()
            click.echo(f"{name} pass failed: {type(error).__name__}", err=True)
            handled = 0
        db.session.remove()
        if not handled and not busy:
            stop.sleep(interval)
    try:
        db.session.rollback()  # a signal may have come mid-transaction
        release()
        heartbeat.stopped(worker)
    except Exception:  # noqa: BLE001 - the database may be what stopped us
        db.session.rollback()
    Stop.restore(before)  # the process may go on (a test, a command run in-process)
    click.echo(f"{name} stopped")
