"""A receiver that trickles its answer cannot hold a webhook worker past the delivery's
deadline: httpx's timeouts bound each read, the deadline bounds the whole exchange."""

import socket
import threading
import time

import pytest
from sqlalchemy import select

from portal.core.integrations import pinned, webhooks
from portal.core.integrations.models.api import WebhookDelivery
from portal.extensions import db
from tests.api.conftest import capture

TRICKLE = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000
PAUSE = 0.05  # between bytes: far inside the read timeout, so no single read ever times out
LONGEST = 60  # seconds the receiver would go on for (its loop is bounded, it stops by itself)


class Trickler:
    """A receiver on loopback that reads the request, then answers one byte at a time."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sent = 0
        self.closed_after = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        connection, _ = self.listener.accept()
        with connection:
            connection.recv(65536)  # the delivery: headers and a small body
            started = time.monotonic()
            try:
                for byte in TRICKLE:
                    if time.monotonic() - started > LONGEST:
                        break
                    connection.sendall(bytes([byte]))
                    self.sent += 1
                    time.sleep(PAUSE)
            except OSError:  # the worker gave up and closed the connection
                self.closed_after = time.monotonic() - started

    def close(self):
        self.listener.close()
        self.thread.join(timeout=LONGEST + 5)


@pytest.fixture
def trickler(app):
    app.config.update(
        WEBHOOKS_ALLOW_INSECURE=True, WEBHOOK_READ_TIMEOUT=1, WEBHOOK_DELIVERY_SECONDS=1.5
    )
    server = Trickler()
    yield server
    server.close()
    pinned.close()


def test_a_trickling_receiver_is_cut_off_at_the_deadline_and_the_attempt_fails(api, trickler):
    hook = api.post(
        "/webhooks",
        json={"url": f"http://127.0.0.1:{trickler.port}/hook", "events": ["consent.changed"]},
    )
    assert hook.status_code == 201, hook.json
    api.post("/consents", json=capture())
    started = time.monotonic()
    result = webhooks.deliver_due()
    took = time.monotonic() - started
    assert result.sent == 0
    delivery = db.session.scalar(select(WebhookDelivery))
    assert delivery.status == "queued" and delivery.attempts == 1  # retried later
    assert delivery.last_error == webhooks.UNREACHABLE
    # Cut off at the deadline, not after the minute the receiver would have gone on for (nor
    # after its 100,000 bytes): every single read came within the read timeout.
    assert took < 10, took
    assert 0 < trickler.sent < 1000
