"""Load run: gunicorn on PostgreSQL and Redis, many concurrent clients, on loopback only.

A mix of sign-ups, confirmations (links read from a real SMTP sink), preference changes
(through the "Manage preferences" link in those mails' footer), API lookups (with a key made
by ``flask api-clients create``) and page views for a bounded time, at most RATE (100)
requests a second in all, then the same against two gunicorn instances sharing the database
and Redis. Reports requests per second, p50/p95/p99 latency, errors, unexpected refusals, the
peak resident memory of one worker, and whether every confirmation mail reached the SMTP sink
exactly once; checks that rate limits hold across instances.

The load generator runs on the same machine (its threads, the SMTP sink, the outbox worker,
PostgreSQL and Redis share the cores with gunicorn), so the figures are for the whole set-up.
"""

import base64
import email
import email.policy
import http.client
import json
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from aiosmtpd.controller import Controller

from bench.common import Figure, WorkerMemory, percentile, scratch_postgres

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BRANDS = ["camille", "aurele", "vespera", "orsini", "hartwell", "solenne", "kogen"]
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TOPIC = re.compile(r'name="topics" value="(\d+)"')
TEXT = re.compile(r'name="text_version" value="(\d+)"')
LINK = re.compile(r"https?://\S+/confirm/\S+")
MANAGE = re.compile(r"https?://\S+/preferences/manage/\S+")
EMAIL_ROW = re.compile(r'name="shown" value="(\d+):email:([01])"')
NOT_DONE = ("not saved", "finding no one")
KEY = re.compile(r"key \(shown once\): (\S+)")
RATE = 100  # requests a second, all users together


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Sink:
    """The SMTP server the portal's worker delivers to: counts mails per recipient."""

    def __init__(self):
        self.lock = threading.Lock()
        self.per_address: dict[str, int] = {}
        self.links: list[str] = []
        self.manage_links: list[str] = []  # reusable: each stays for the whole run

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",)).get_content()
        link, manage = LINK.search(text), MANAGE.search(text)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.per_address[rcpt] = self.per_address.get(rcpt, 0) + 1
            if link:
                self.links.append(link.group(0))
            if manage:
                self.manage_links.append(manage.group(0))
        return "250 OK"

    def take_link(self) -> str | None:
        with self.lock:
            return self.links.pop() if self.links else None

    def any_manage_link(self) -> str | None:
        with self.lock:
            return random.choice(self.manage_links) if self.manage_links else None


class Client:
    """One browser: a keep-alive connection and a cookie jar; records every request."""

    def __init__(self, port: int, stats: "Stats"):
        self.port, self.stats, self.cookies = port, stats, {}
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(
        self,
        method: str,
        path: str,
        form: dict | None = None,
        *,
        json_body: dict | None = None,
        headers: dict | None = None,
    ) -> tuple[int, str]:
        body = urlencode(form, doseq=True) if form is not None else None
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} | (
            headers or {}
        )
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if json_body is not None:
            body = json.dumps(json_body)
            headers["Content-Type"] = "application/json"
        if self.stats.pacer is not None:
            self.stats.pacer.wait()
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            text = response.read().decode()
        except (OSError, http.client.HTTPException) as failure:
            print(f"{method} {path} failed: {failure!r}", file=sys.stderr, flush=True)
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.stats.record(time.perf_counter() - started, 599)
            return 599, ""
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        self.stats.record(time.perf_counter() - started, response.status)
        if response.status >= 500:
            print(f"{method} {path}: {response.status}\n{text[:2000]}", file=sys.stderr, flush=True)
        return response.status, text


class Pacer:
    """All users together send at most ``rate`` requests a second, evenly spaced: the mixed
    load is measured at a given rate, not at whatever rate the server's answers allow. When
    the server falls behind, the users wait for its answers and the rate reached says so."""

    def __init__(self, rate: float):
        self.interval, self.lock, self.next_at = 1 / rate, threading.Lock(), time.monotonic()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            slot = max(self.next_at, now)
            self.next_at = slot + self.interval
        time.sleep(max(0.0, slot - now))


class Stats:
    def __init__(self):
        self.pacer: Pacer | None = None
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.accepted: list[str] = []
        self.actions: dict[str, int] = {}

    def record(self, seconds: float, status: int) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def did(self, action: str) -> None:
        with self.lock:
            self.actions[action] = self.actions.get(action, 0) + 1

    def any_accepted(self) -> str | None:
        with self.lock:
            return random.choice(self.accepted) if self.accepted else None

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def unexpected(self) -> int:
        """Answers the mix should never get: a 4xx (a 429 of the per-address limit is
        expected), a preference row not saved, an API lookup not finding a signed-up person."""
        refused = sum(
            n for status, n in self.statuses.items() if 400 <= status < 500 and status != 429
        )
        return refused + sum(n for action, n in self.actions.items() if action.endswith(NOT_DONE))


def sign_up(client: Client, address: str, brand: str | None = None) -> int:
    status, page = client.request("GET", f"/luxe/join/{brand or random.choice(BRANDS)}")
    if status != 200:
        return status
    topics = TOPIC.findall(page)
    form = {
        "csrf_token": CSRF.search(page).group(1),
        "email": address,
        "text_version": TEXT.search(page).group(1),
        "topics": random.sample(topics, k=min(2, len(topics))),
    }
    status, _ = client.request("POST", f"/luxe/join/{brand or random.choice(BRANDS)}", form)
    return status


def confirm(client: Client, link: str) -> int:
    path = urlsplit(link).path
    status, page = client.request("GET", path)
    if status != 200 or "csrf_token" not in page:
        return status
    status, _ = client.request("POST", path, {"csrf_token": CSRF.search(page).group(1)})
    return status


def change_preference(client: Client, link: str) -> int:
    """Open a mail's "Manage preferences" link, then turn one email topic on or off as the
    centre's htmx toggle does (that row's shown state, ticked when turning it on)."""
    status, _ = client.request("GET", urlsplit(link).path)
    if status != 302:
        return status
    status, page = client.request("GET", "/luxe/preferences/")
    if status != 200:
        return status
    topic, state = random.choice(EMAIL_ROW.findall(page))
    form = {"csrf_token": CSRF.search(page).group(1), "shown": f"{topic}:email:{state}"}
    if state == "0":
        form["consent"] = f"{topic}:email"
    status, row = client.request(
        "POST", f"/luxe/preferences/row/{topic}/email", form, headers={"HX-Request": "true"}
    )
    if status == 200 and 'class="saved"' not in row:
        # A refused row answers 200 too. Two clients may toggle the same person's row at once
        # (the mix picks manage links at random): the second is told so and nothing is
        # overwritten, as it should be. Anything else is a change lost.
        if "changed in another window meanwhile" in row:
            client.stats.did("preference changes refused, made meanwhile by another client")
        else:
            client.stats.did("preference changes not saved")
            print(f"preference change not saved:\n{row}", file=sys.stderr, flush=True)
    return status


def look_up(client: Client, key: str, address: str) -> int:
    """What a CRM asks: consents by address, then by the subject id it was given."""
    bearer = {"Authorization": f"Bearer {key}"}
    status, body = client.request(
        "POST", "/api/v1/consents/lookup", json_body={"email": address}, headers=bearer
    )
    subject_id = json.loads(body).get("subject_id") if status == 200 else None
    if status == 200 and not subject_id:
        client.stats.did("API lookups finding no one")  # every address asked for signed up
    if subject_id:
        status, _ = client.request("GET", f"/api/v1/subjects/{subject_id}/consents", headers=bearer)
    return status


def _user(port_of, sink: Sink, stats: Stats, deadline: float, run: str, index: int, key: str):
    clients = {}
    count = 0
    while time.monotonic() < deadline:
        port = port_of(count)
        client = clients.setdefault(port, Client(port, stats))
        roll = random.random()
        if roll < 0.3:
            address = f"load-{run}-{index}-{count}@example.com"
            brand = random.choice(BRANDS)
            if sign_up(client, address, brand) == 200:
                with stats.lock:
                    stats.accepted.append(address)
            stats.did("sign-ups")
        elif roll < 0.55 and (link := sink.take_link()):
            confirm(client, link)
            stats.did("confirmations")
        elif roll < 0.7 and (link := sink.any_manage_link()):
            change_preference(client, link)
            stats.did("preference changes")
        elif roll < 0.85 and (address := stats.any_accepted()):
            look_up(client, key, address)
            stats.did("API lookups")
        else:
            client.request("GET", "/luxe/")
            stats.did("home pages")
        count += 1


def _environment(database_url: str, smtp_port: int, base_port: int, prefix: str) -> dict:
    key = lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()  # noqa: E731
    return dict(
        os.environ,
        FLASK_APP="portal",
        PORTAL_ENV="production",
        SECRET_KEY=secrets.token_hex(32),
        PORTAL_DATA_KEY=key(),
        PORTAL_HASH_KEY=key(),
        DATABASE_URL=database_url,
        PORTAL_BASE_URL=f"http://127.0.0.1:{base_port}",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp_port),
        RATELIMIT_STORAGE_URI=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379"),
        RATELIMIT_KEY_PREFIX=prefix,
        # One load generator is one IP: lift the per-IP limit, keep the per-address one.
        RATELIMIT_SIGNUP_IP="1000000 per minute",
        RATELIMIT_API="1000000 per minute",  # and one API client: lift its limit too
        LOG_JSON="false",
        LOG_LEVEL="WARNING",
        GUNICORN_WORKERS=os.environ.get("GUNICORN_WORKERS", "2"),
        GUNICORN_THREADS=os.environ.get("GUNICORN_THREADS", "4"),
    )


@contextmanager
def _process(arguments: list[str], env: dict):
    process = subprocess.Popen(
        arguments, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _flask(command: list[str], env: dict) -> str:
    done = subprocess.run(
        [str(BIN / "flask"), *command],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def _wait_until_up(port: int) -> None:
    for _ in range(100):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn on port {port} did not come up")


def _gunicorn(port: int, env: dict):
    return _process(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        env,
    )


def _drive(ports: list[int], sink: Sink, seconds: float, users: int, run: str, key: str):
    stats = Stats()
    stats.pacer = Pacer(RATE)
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(
            target=_user,
            args=((lambda n, i=i: ports[(n + i) % len(ports)]), sink, stats, deadline, run, i, key),
        )
        for i in range(users)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats.elapsed = time.monotonic() - started
    return stats


def _mails_delivered(sink: Sink, stats: Stats, wait: float = 120) -> tuple[int, int]:
    """(lost, duplicated) among accepted sign-ups once the worker has caught up."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with sink.lock:
            missing = [a for a in stats.accepted if a not in sink.per_address]
        if not missing:
            break
        time.sleep(0.5)
    with sink.lock:
        lost = sum(1 for a in stats.accepted if a not in sink.per_address)
        duplicated = sum(1 for a in stats.accepted if sink.per_address.get(a, 0) > 1)
    return lost, duplicated


def _figures(label: str, stats: Stats, lost: int, duplicated: int) -> list[Figure]:
    ms = [s * 1000 for s in stats.latencies]
    return [
        Figure("load", f"{label}: requests per second", len(ms) / stats.elapsed, "req/s"),
        Figure("load", f"{label}: p50 latency", percentile(ms, 0.50), "ms"),
        Figure("load", f"{label}: p95 latency", percentile(ms, 0.95), "ms"),
        Figure(
            "load",
            f"{label}: p99 latency (at most {RATE} requests a second)",
            percentile(ms, 0.99),
            "ms",
            "<= 250 ms" if label == "one instance" else "",
            percentile(ms, 0.99) <= 250 if label == "one instance" else None,
        ),
        Figure("load", f"{label}: errors (5xx, refused)", stats.errors, "", "0", stats.errors == 0),
        Figure(
            "load",
            f"{label}: unexpected answers (4xx but 429, row not saved, no one found)",
            stats.unexpected,
            "",
            "0",
            stats.unexpected == 0,
        ),
        Figure(
            "load",
            f"{label}: mix",
            ", ".join(f"{n} {action}" for action, n in sorted(stats.actions.items())),
            "",
        ),
        Figure(
            "load",
            f"{label}: confirmation mails lost",
            lost,
            f"of {len(stats.accepted)}",
            "0",
            lost == 0,
        ),
        Figure(
            "load", f"{label}: confirmation mails sent twice", duplicated, "", "0", duplicated == 0
        ),
    ]


def _limit_holds_across(ports: list[int]) -> bool:
    """The per-address limit (3 an hour) counts sign-ups made through either instance."""
    stats = Stats()
    address = f"limit-{secrets.token_hex(4)}@example.com"
    answers = [sign_up(Client(ports[n % 2], stats), address, "camille") for n in range(4)]
    return answers == [200, 200, 200, 429]


def run(quick: bool) -> list[Figure]:
    seconds, users = (15, 8) if quick else (180, 24)
    figures = []
    with ExitStack() as stack, scratch_postgres() as database_url:
        sink = Sink()
        controller = Controller(sink, hostname="127.0.0.1", port=_free_port())
        controller.start()
        stack.callback(controller.stop)
        first, second = _free_port(), _free_port()
        env = _environment(database_url, controller.port, first, f"bench{secrets.token_hex(3)}")
        for command in (["db", "upgrade"], ["demo", "load"]):
            _flask(command, env)
        key = KEY.search(
            _flask(
                ["api-clients", "create", "--group", "luxe", "--name", "Load run"]
                + ["--scope", "consent:read", "--terms", "Load test: reads consent only."],
                env,
            )
        ).group(1)
        server = stack.enter_context(_gunicorn(first, env))
        stack.enter_context(
            _process([str(BIN / "flask"), "outbox", "work", "--interval", "0.2"], env)
        )
        _wait_until_up(first)
        with WorkerMemory(server.pid) as memory:
            stats = _drive([first], sink, seconds, users, "one", key)
        figures += _figures("one instance", stats, *_mails_delivered(sink, stats))
        figures.append(
            Figure(
                "load",
                "one instance: peak resident memory of one worker (VmHWM)",
                memory.peak_mb,
                "MB",
                "<= 150 MB",
                memory.peak_mb <= 150,
            )
        )

        stack.enter_context(_gunicorn(second, env))
        _wait_until_up(second)
        stats = _drive([first, second], sink, max(5, seconds // 3), users, "two", key)
        figures += _figures("two instances", stats, *_mails_delivered(sink, stats))
        holds = _limit_holds_across([first, second])
        figures.append(
            Figure(
                "load",
                "two instances: per-address limit holds across them",
                int(holds),
                "",
                "1",
                holds,
            )
        )
    return figures
