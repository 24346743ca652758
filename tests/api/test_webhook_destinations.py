"""Webhooks never reach inside the network: refused when registered and when delivered.

The resolver is replaced (``socket.getaddrinfo``) so that names can answer with any address,
as an attacker's DNS server would, including a different answer the second time.
"""

import socket

import pytest

from portal.core.integrations import webhooks
from tests.api.conftest import capture
from tests.api.test_webhooks import Receiver

EVENTS = ["consent.changed"]
PUBLIC = "93.184.215.14"
LOOPBACK = [
    "127.0.0.1:5432",
    "127.1",
    "2130706433",  # 127.0.0.1 as one decimal number
    "0177.0.0.1",  # octal
    "0x7f.0.0.1",  # hexadecimal
    "[::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
    "[::ffff:7f00:1]",
    "[2002:7f00:1::]",  # 6to4 around 127.0.0.1
    "localhost",
]
INSIDE = [
    "0",
    "0.0.0.0",
    "[::]",
    "[::ffff:169.254.169.254]",
    "[64:ff9b::a9fe:a9fe]",  # NAT64 around 169.254.169.254
    "10.0.0.5",
    "012.0.0.5",  # octal 10.0.0.5
    "172.16.3.4",
    "192.168.1.1",
    "3232235777",  # 192.168.1.1
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "169.254.169.254",  # cloud metadata (link-local)
    "[fd00:ec2::254]",  # AWS metadata over IPv6 (unique local)
    "[fe80::1]",
    "224.0.0.1",
    "[ff02::1]",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "metadata.google.internal",
    "private.example",  # a name that resolves to 10.1.2.3
    "mixed.example",  # one public and one private address
]


@pytest.fixture
def dns(monkeypatch):
    """names -> addresses; other names go to the real resolver."""
    answers = {
        "private.example": ["10.1.2.3"],
        "mixed.example": [PUBLIC, "10.9.8.7"],
        "public.example": [PUBLIC],
    }
    calls = []
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        calls.append(host)
        found = answers[host]
        found = found.pop(0) if found and isinstance(found[0], list) else found
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port or 0),
            )
            for a in found
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    fake.answers, fake.calls = answers, calls
    return fake


def _register(api, url):
    return api.post("/webhooks", json={"url": url, "events": EVENTS})


def test_a_destination_inside_the_network_is_refused_when_registered(app, api, dns):
    accepted = []
    for insecure in (False, True):
        app.config["WEBHOOKS_ALLOW_INSECURE"] = insecure
        # The testing switch lets loopback through, and only loopback.
        for host in INSIDE if insecure else LOOPBACK + INSIDE:
            answer = _register(api, f"https://{host}/hook")
            if answer.status_code != 422:
                accepted.append((host, insecure, answer.status_code))
                continue
            assert answer.json["errors"][0]["field"] == "url"
            assert "public internet address" in answer.json["detail"]
    assert accepted == []
    assert api.get("/webhooks").json["webhooks"] == []


def test_public_destinations_and_names_not_yet_resolving_are_accepted(api, dns):
    for url in (f"https://{PUBLIC}/hook", "https://public.example/hook", "https://later.invalid/"):
        assert _register(api, url).status_code == 201, url


def test_the_testing_switch_opens_loopback_only_when_set(app, api):
    assert _register(api, "http://127.0.0.1:8080/hook").status_code == 422
    app.config["WEBHOOKS_ALLOW_INSECURE"] = True
    assert _register(api, "http://127.0.0.1:8080/hook").status_code == 201
    assert _register(api, "http://[::1]:8080/hook").status_code == 201
    assert _register(api, "http://10.0.0.1:8080/hook").status_code == 422
    assert _register(api, "http://169.254.169.254/latest").status_code == 422


@pytest.fixture
def receiver(app):
    app.config["WEBHOOKS_ALLOW_INSECURE"] = True
    server = Receiver()
    server.start()
    yield server
    server.stop()


def _deliveries(api, hook):
    return api.get(f"/webhooks/{hook['id']}/deliveries").json["deliveries"]


def test_a_name_that_turns_private_after_registration_gets_nothing(app, api, dns, receiver):
    dns.answers["rebind.example"] = [PUBLIC]
    hook = _register(api, f"https://rebind.example:{receiver.port}/hook").json
    dns.answers["rebind.example"] = ["10.20.30.40"]
    api.post("/consents", json=capture())
    assert webhooks.deliver_all().retrying == 1
    log = _deliveries(api, hook)
    assert [d["last_error"] for d in log] == [webhooks.NOT_PUBLIC]


def test_a_destination_allowed_once_is_checked_again_at_delivery(app, api, receiver):
    hook = _register(api, f"http://127.0.0.1:{receiver.port}/hook").json
    app.config["WEBHOOKS_ALLOW_INSECURE"] = False  # the switch is off in production
    api.post("/consents", json=capture())
    assert webhooks.deliver_all().retrying == 1
    assert receiver.received == []
    assert [d["last_error"] for d in _deliveries(api, hook)] == [webhooks.NOT_PUBLIC]


def test_the_worker_connects_to_the_address_it_checked(api, dns, receiver):
    """DNS rebinding: the name answers loopback (allowed while testing) to the check and a
    private address to any later lookup; the delivery still goes to the checked address,
    with the name kept in Host."""
    dns.answers["hooks.example"] = [["127.0.0.1"], ["127.0.0.1"]] + [["10.255.255.1"]] * 5
    hook = _register(api, f"http://hooks.example:{receiver.port}/hook")
    assert hook.status_code == 201
    receiver.secret = hook.json["secret"]
    api.post("/consents", json=capture())
    assert webhooks.deliver_all().sent == 1
    assert dns.calls == ["hooks.example", "hooks.example"]  # registration, then delivery
    status, headers, _ = receiver.received[0]
    assert status == 200
    assert headers["Host"] == f"hooks.example:{receiver.port}"


def test_delivery_errors_do_not_tell_closed_from_silent_ports(api, dns, receiver):
    """A closed port and a name that does not resolve read the same in the log."""
    # The receiver is bound but not listening yet: its port refuses connections.
    closed = _register(api, f"http://127.0.0.1:{receiver.port}/hook").json
    gone = _register(api, "http://gone.invalid/hook").json
    api.post("/consents", json=capture())
    assert webhooks.deliver_all().retrying == 2
    errors = {d["last_error"] for h in (closed, gone) for d in _deliveries(api, h)}
    assert errors == {webhooks.UNREACHABLE}
