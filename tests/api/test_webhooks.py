"""Webhooks against a real HTTP receiver on loopback: signed, retried, never lost."""

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from portal.core.integrations import webhooks
from portal.core.kernel import clock
from tests.api.conftest import capture


class Receiver:
    """An HTTP server that verifies signatures like a client's receiver should."""

    def __init__(self):
        self.secret, self.answers, self.received = None, [], []
        self.peers = []  # the client's (address, port) of each request: one per connection
        self.on_request = None  # called before answering (a test moving the clock)
        self.verify_with = None  # (headers, body) -> status, instead of the checks here
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keeps the connection open for the next delivery

            def do_POST(self):
                receiver.peers.append(self.client_address)
                if receiver.on_request:
                    receiver.on_request()
                body = self.rfile.read(int(self.headers["Content-Length"]))
                genuine = webhooks.verify(
                    receiver.secret, self.headers.get("Portal-Signature", ""), body, time.time()
                )
                status = receiver.answers.pop(0) if receiver.answers else 200
                if not genuine:
                    status = 401
                if receiver.verify_with:  # a receiver's own handler decides (the README's)
                    status = receiver.verify_with(self.headers, body)
                receiver.received.append((status, dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        # Bound now, on a port the system chooses, but listening only from ``start``: until
        # then connections are refused, as by a dead host.
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.server_bind()
        self.port = self.server.server_address[1]
        self.thread = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self):
        self.server.server_activate()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(app):
    app.config["WEBHOOKS_ALLOW_INSECURE"] = True
    server = Receiver()
    yield server
    if server.thread:
        server.stop()
    else:
        server.server.server_close()


def register(api, receiver, events=("consent.changed",)):
    answer = api.post("/webhooks", json={"url": receiver.url, "events": list(events)})
    assert answer.status_code == 201, answer.json
    receiver.secret = answer.json["secret"]
    return answer.json


def test_webhook_urls_must_be_https_unless_testing_allows_loopback(app, api):
    answer = api.post(
        "/webhooks", json={"url": "http://example.org/x", "events": ["consent.changed"]}
    )
    assert answer.status_code == 422
    assert answer.json["errors"][0]["field"] == "url"
    assert (
        api.post(
            "/webhooks", json={"url": "https://example.org/x", "events": ["consent.changed"]}
        ).status_code
        == 201
    )


def test_a_change_is_delivered_signed(api, receiver):
    receiver.start()
    hook = register(api, receiver)
    assert "secret" not in api.get("/webhooks").json["webhooks"][0]
    api.post("/consents", json=capture())
    assert webhooks.deliver_all().sent == 1
    status, headers, body = receiver.received[0]
    assert status == 200
    event = json.loads(body)
    assert event["type"] == "consent.changed" and event["data"]["state"] == "granted"
    assert headers["Portal-Event-Id"] == event["id"]
    assert headers["Portal-Signature"].startswith("t=")
    log = api.get(f"/webhooks/{hook['id']}/deliveries").json["deliveries"]
    assert [(d["status"], d["attempts"], d["last_status"]) for d in log] == [("delivered", 1, 200)]


def test_a_failing_receiver_gets_retries_with_back_off(api, receiver):
    receiver.start()
    receiver.answers = [500]
    hook = register(api, receiver)
    api.post("/consents", json=capture())
    assert webhooks.deliver_all().retrying == 1
    log = api.get(f"/webhooks/{hook['id']}/deliveries").json["deliveries"][0]
    assert (log["status"], log["attempts"], log["last_status"]) == ("queued", 1, 500)
    assert webhooks.deliver_all().handled == 0  # not due yet
    clock.freeze(clock.now() + timedelta(minutes=1))
    assert webhooks.deliver_all().sent == 1
    assert [status for status, _, _ in receiver.received] == [500, 200]


def test_a_receiver_that_is_down_loses_nothing(api, receiver):
    hook = register(api, receiver)  # registered but not listening yet
    for topic in ("news", "events"):
        api.post("/consents", json=capture(topic=topic))
    # Both events are about Ada: the second waits for the first (order per person).
    assert webhooks.deliver_all().retrying == 1
    log = api.get(f"/webhooks/{hook['id']}/deliveries").json["deliveries"]
    # Generic: naming the socket error would map the ports of any host a client can name.
    assert [d["last_error"] for d in log] == [None, "The receiver could not be reached."]
    receiver.start()
    clock.freeze(clock.now() + timedelta(minutes=1))
    assert webhooks.deliver_all().sent == 2
    topics = [json.loads(body)["data"]["topic"] for _, _, body in receiver.received]
    assert topics == ["news", "events"]


def test_a_replayed_or_forged_delivery_is_rejected(api, receiver):
    receiver.start()
    register(api, receiver)
    api.post("/consents", json=capture())
    webhooks.deliver_all()
    _, headers, body = receiver.received[0]
    signature = headers["Portal-Signature"]
    now = time.time()
    assert webhooks.verify(receiver.secret, signature, body, now)
    assert not webhooks.verify(receiver.secret, signature, body, now + webhooks.REPLAY_WINDOW + 5)
    assert not webhooks.verify(
        receiver.secret, signature, body.replace(b"granted", b"withdrawn"), now
    )
    assert not webhooks.verify("whsec_other", signature, body, now)
    assert not webhooks.verify(receiver.secret, "garbage", body, now)


def test_a_removed_endpoint_gets_nothing_more(api, receiver):
    receiver.start()
    hook = register(api, receiver)
    assert api.delete(f"/webhooks/{hook['id']}").status_code == 200
    assert api.delete(f"/webhooks/{hook['id']}").status_code == 404
    api.post("/consents", json=capture())
    assert webhooks.deliver_all().handled == 0


def test_the_webhook_command_delivers_them_and_the_mail_one_does_not(api, receiver, runner):
    receiver.start()
    register(api, receiver)
    api.post("/consents", json=capture())
    assert "webhooks" not in runner.invoke(args=["outbox", "send"]).output
    assert receiver.received == []
    result = runner.invoke(args=["webhooks", "send"])
    assert "webhooks: delivered 1" in result.output
    assert len(receiver.received) == 1
