"""Speed of the consent API against PostgreSQL, served by gunicorn (``make bench``).

At --scale 1: 1,000,000 subjects and 10,000,000 ledger rows, generated in SQL with
generate_series. The ceiling is ``bench.bare``: a bare Flask app in a gunicorn of its own (one
row by primary key, a static bearer check, nothing of the portal). wrk drives it and the API's
single lookups (by id, by address) in alternating rounds; each is reported in requests per
second and in requests per app CPU-second (the gunicorn master's and its workers' utime + stime
over the round, from /proc). The machine is shared: requests per second follow whatever else
runs, requests per CPU-second much less, so the ratios to trust are the per-CPU-second ones.
Then the audience check and the change feed, with the workers' peak resident memory.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import orjson
import sqlalchemy as sa

from bench.common import Figure, WorkerMemory, resident_mb, server_cpu
from bench.load import _free_port

ROOT = Path(__file__).resolve().parent.parent
REAL = 10_000  # subjects with genuine keyed hashes: the ones looked up and checked
KEYS = {
    "SECRET_KEY": "bench-secret-" + "x" * 40,
    "PORTAL_DATA_KEY": "YmVuY2gtZGF0YS1rZXktYmVuY2gtZGF0YS1rZXktYmU=",
    "PORTAL_HASH_KEY": "YmVuY2gtaGFzaC1rZXktYmVuY2gtaGFzaC1rZXktYmU=",
}


def _app(url: str):
    os.environ.update(KEYS)
    from portal import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url})


def _prepare(url: str) -> None:
    """Migrate, load the demo group, add REAL genuine subjects."""
    from flask_migrate import upgrade

    from portal.core.console.demo import load
    from portal.core.people import subjects
    from portal.extensions import db

    app = _app(url)
    with app.app_context():
        upgrade()
        group, _ = load()
        blob = app.extensions["portal.keys"].encrypt("x@bench.example")
        rows = [
            {
                "g": group.id,
                "h": subjects.address_hash(group.id, f"person{n}@bench.example"),
                "e": blob,
            }
            for n in range(REAL)
        ]
        db.session.execute(
            sa.text(
                "INSERT INTO subject (group_id, email_hash, email, status, language, "
                "created_at) VALUES (:g, :h, :e, 'active', 'en', now())"
            ),
            rows,
        )
        db.session.commit()
        db.engine.dispose()


def _new_key(url: str) -> tuple[str, int]:
    """A fresh API client of the demo group: (its key, the group's id)."""
    from portal.core.integrations import clients
    from portal.extensions import db

    app = _app(url)
    with app.app_context():
        terms = ("Bench: reads consent and events only.", date(2025, 1, 15))
        client, key = clients.create("luxe", "bench", ["consent:read", "events:read"], terms=terms)
        group_id = client.group_id
        db.session.commit()
        db.engine.dispose()
    return key, group_id


def _grow(engine, group_id: int, first: int, last: int) -> None:
    """Subjects first..last (fake hashes, beyond REAL; the address of the first, encrypted),
    2 consents and 10 ledger rows each."""
    with engine.begin() as c:
        params = {"g": group_id, "a": first, "b": last}
        if last > REAL:
            c.execute(
                sa.text(
                    "INSERT INTO subject (group_id, email_hash, email, status, language, created_at) "
                    "SELECT :g, md5(n::text) || md5('x' || n), (SELECT email FROM subject WHERE "
                    "id = 1), 'active', 'en', now() FROM generate_series(greatest(:a, :r + 1), :b) n"
                ),
                {**params, "r": REAL},
            )
        topics = c.execute(
            sa.text(
                "SELECT t.id, t.brand_id FROM topic t JOIN brand b ON b.id = t.brand_id "
                "WHERE b.group_id = :g ORDER BY t.id LIMIT 2"
            ),
            {"g": group_id},
        ).all()
        for (topic, brand), channel, state in zip(
            topics, ("email", "sms"), ("granted", "withdrawn"), strict=True
        ):
            c.execute(
                sa.text(
                    "INSERT INTO consent (subject_id, brand_id, topic_id, channel, state, since, "
                    "source, policy_version, updated_at) SELECT s.id, :brand, :topic, :ch, :st, now(), "
                    "'import', '2026-01', now() FROM subject s WHERE s.id BETWEEN :a AND :b"
                ),
                {**params, "brand": brand, "topic": topic, "ch": channel, "st": state},
            )
        c.execute(
            sa.text(
                "INSERT INTO ledger_entry (group_id, chain, chain_seq, subject_id, brand_id, "
                "topic_id, channel, action, source, occurred_at, actor, personal_digest, "
                "prev_hash, hash) "
                "SELECT :g, md5('chain' || s.id), k + 1, s.id, :brand, :topic, 'email', 'granted', "
                "'import', now(), 'bench', md5(s.id::text) || md5(k::text), '', md5(k || 'h') "
                "FROM subject s, generate_series(0, 9) k WHERE s.id BETWEEN :a AND :b"
            ),
            {**params, "brand": topics[0][1], "topic": topics[0][0]},
        )


def _events(engine, group_id: int, count: int) -> None:
    """``count`` consent events of one transaction, placed in the feed as ``events.emit``
    places them (its transaction id; a page reads them once it has committed)."""
    with engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO event (group_id, xid, type, brand_id, subject_id, payload, created_at) "
                "SELECT :g, pg_current_xact_id()::text::bigint, 'consent.changed', b.id, "
                "(n % :r) + 1, json_build_object('subject_id', "
                "(n % :r) + 1, 'brand', b.slug, 'topic', 'news', 'channel', 'email', 'state', "
                "'granted', 'since', now()::text, 'source', 'import', 'policy_version', '2026-01'), "
                "now() FROM generate_series(1, :n) n, (SELECT id, slug FROM brand WHERE group_id = :g "
                "ORDER BY id LIMIT 1) b ORDER BY n"
            ),
            {"g": group_id, "n": count, "r": REAL},
        )


WRK = re.compile(r"(\d+) requests in ([\d.]+)(m?s)")


def _wrk(base: str, script_lua: str, seconds: int) -> tuple[int, float]:
    """(requests answered, seconds taken) by wrk: 2 threads, 8 connections."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(script_lua)
    output = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", "-s", script.name, base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    count, taken, unit = WRK.search(output).groups()
    return int(count), float(taken) / (1000 if unit == "ms" else 1)


def _by_id(path: str, key: str, upto: int, suffix: str = "") -> str:
    """wrk: GET path<random id in 1..upto>suffix with the bearer key."""
    return (
        "math.randomseed(os.time())\n"
        "request = function()\n"
        f"  local id = math.random(1, {upto})\n"
        f"  return wrk.format('GET', '{path}' .. id .. '{suffix}',"
        f" {{['Authorization'] = 'Bearer {key}'}})\n"
        "end\n"
    )


def _by_email(key: str) -> str:
    """wrk: POST /api/v1/consents/lookup of one of the REAL known addresses."""
    return (
        "math.randomseed(os.time())\n"
        "request = function()\n"
        f"  local n = math.random(0, {REAL - 1})\n"
        "  return wrk.format('POST', '/api/v1/consents/lookup', {['Authorization'] = "
        f"'Bearer {key}', ['Content-Type'] = 'application/json'}}, "
        "'{\"email\": \"person' .. n .. '@bench.example\"}')\n"
        "end\n"
    )


@dataclass
class Rounds:
    """One kind of request measured round after round: requests, wall and server CPU seconds."""

    requests: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def measure(self, server: "Server", script_lua: str, seconds: int) -> None:
        before = server_cpu(server.pid)
        count, taken = _wrk(server.base, script_lua, seconds)
        self.cpu.append(server_cpu(server.pid) - before)
        self.requests.append(count)
        self.seconds.append(taken)

    @property
    def per_second(self) -> float:
        return statistics.median(n / s for n, s in zip(self.requests, self.seconds, strict=True))

    @property
    def per_cpu_second(self) -> float:
        return statistics.median(n / c for n, c in zip(self.requests, self.cpu, strict=True))


def _post(base, path, key, body) -> dict:
    request = urllib.request.Request(
        base + path,
        data=orjson.dumps(body),
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return orjson.loads(response.read())  # as in _get


def _get(base, path, key) -> dict:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        # A fast parser, as a client in any compiled language would have: the figure is the
        # portal's speed, not that of Python's json module reading 10,000 events a page.
        return orjson.loads(response.read())


def _feed(base: str, key: str, limit: int) -> tuple[float, int]:
    """Events per second of a client reading the whole feed from the start, page by page."""
    started, streamed, cursor = time.perf_counter(), 0, ""
    while True:
        page = _get(base, f"/api/v1/events?limit={limit}&after={cursor}", key)
        streamed += len(page["events"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    return streamed / (time.perf_counter() - started), streamed


class Server:
    """A gunicorn of its own, with the portal's settings (gunicorn.conf.py: gthread workers
    and threads) and two workers, one per core of the bench machine. Worker recycling
    (max_requests) is off for both servers alike: the figures are the steady cost of a request,
    and a worker's memory across rounds would otherwise be reset under the bench's feet."""

    def __init__(self, app: str, port: int, env: dict, probe: str):
        self.base = f"http://127.0.0.1:{port}"
        settings = {"GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "4", "LOG_LEVEL": "WARNING"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}"]
            + ["--max-requests", "0", "--log-level", "warning", app],
            cwd=ROOT,
            env={**os.environ, **settings, **env},
        )
        self.pid = self.process.pid
        for _ in range(150):
            try:
                urllib.request.urlopen(self.base + probe, timeout=1)
                return
            except urllib.error.HTTPError:
                return  # up, and answering
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn for {app} did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _portal(url: str, port: int) -> Server:
    env = {
        **KEYS,
        "DATABASE_URL": url,
        "RATELIMIT_API": "10000000 per minute",  # counted in Redis, as in production
        "RATELIMIT_STORAGE_URI": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379"),
        "RATELIMIT_KEY_PREFIX": f"bench{port}",
        "PORTAL_ENV": "production",
        "PORTAL_BASE_URL": f"http://127.0.0.1:{port}",
        "LOG_JSON": "false",
    }
    return Server("wsgi:app", port, env, "/healthz")


def _bare(url: str, port: int, key: str) -> Server:
    libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
    return Server(
        "bench.bare:app", port, {"BENCH_BARE_DATABASE": libpq, "BENCH_BARE_KEY": key}, "/bare/1"
    )


def run(quick: bool = False) -> list[Figure]:
    """Full scale by default; --quick (or BENCH_API_SCALE) for a reduced one. BENCH_API_KEEP=1
    keeps the generated databases for the next run (generating 1,000,000 subjects takes
    minutes)."""
    scale = os.environ.get("BENCH_API_SCALE") or ("0.01" if quick else "1.0")
    seconds = os.environ.get("BENCH_API_SECONDS") or ("5" if quick else "10")
    keep = ["--keep"] if os.environ.get("BENCH_API_KEEP") == "1" else []
    return _run(["--scale", scale, "--seconds", seconds, *keep])


def _database(args, total: int) -> tuple[str, float | None]:
    """A database of ``total`` subjects: (its URL, seconds spent generating it). With --keep
    it is kept under a name of its size and used again by the next run (None: not generated)."""
    admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    name = f"portal_bench_{total}" if args.keep else f"portal_bench_{uuid.uuid4().hex[:8]}"
    url = args.postgres.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as c:
        known = c.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if known.first() and args.keep:
            admin.dispose()
            _migrate(url)  # a kept database takes the migrations added since it was made
            return url, None
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    started = time.perf_counter()
    _prepare(url)
    engine = sa.create_engine(url)
    with engine.connect() as c:
        group_id = c.execute(sa.text("SELECT id FROM site_group WHERE slug = 'luxe'")).scalar()
    _grow(engine, group_id, 1, total)
    _events(engine, group_id, min(total, 200_000))
    _vacuum(engine)
    return url, time.perf_counter() - started


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    app = _app(url)
    with app.app_context():
        upgrade()
    _vacuum(sa.create_engine(url))


def _vacuum(engine) -> None:
    """VACUUM ANALYZE, as autovacuum does after a large batch of inserts: it also marks the
    pages all-visible, which index-only scans need."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()


def _drop(args, url: str) -> None:
    if args.keep:
        return
    admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def _run(argv: list[str]) -> list[Figure]:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="fraction of 1,000,000 subjects / 10,000,000 ledger rows",
    )
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per measure")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the generated databases and use them again next time",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "PORTAL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of wrk")
    args = parser.parse_args(argv)
    total = max(REAL, int(1_000_000 * args.scale))
    port, bare_port = _free_port(), _free_port()
    url, generated = _database(args, total)
    try:
        key, _ = _new_key(url)
        engine = sa.create_engine(url)
        with engine.connect() as c:
            upto = c.execute(sa.text("SELECT max(id) FROM subject")).scalar()
            ledger_rows = c.execute(sa.text("SELECT count(*) FROM ledger_entry")).scalar()
        engine.dispose()
        with _bare(url, bare_port, key) as bare_server, _portal(url, port) as portal:
            measured = _lookups(bare_server, portal, key, upto, args)
            figures = _scale(upto, ledger_rows, generated) + measured
            figures += _bulk_and_feed(portal, key)
    finally:
        _drop(args, url)
    return figures


def _lookups(bare_server: Server, portal: Server, key: str, upto: int, args) -> list[Figure]:
    """The bare endpoint and the API's two single lookups in alternating rounds, so whatever
    else the machine does weighs on all three alike; the portal's workers' memory after each."""
    bare, by_id, by_email = Rounds(), Rounds(), Rounds()
    loads, resident = [], []
    warm = max(2, args.seconds // 3)  # first requests: connections, caches, the key's client
    _wrk(bare_server.base, _by_id("/bare/", key, upto), warm)
    _wrk(portal.base, _by_id("/api/v1/subjects/", key, upto, "/consents"), warm)
    _wrk(portal.base, _by_email(key), warm)
    for _ in range(args.rounds):
        loads.append(os.getloadavg()[0])
        bare.measure(bare_server, _by_id("/bare/", key, upto), args.seconds)
        by_id.measure(portal, _by_id("/api/v1/subjects/", key, upto, "/consents"), args.seconds)
        by_email.measure(portal, _by_email(key), args.seconds)
        resident.append(resident_mb(portal.pid))
    load = f"load average {min(loads):.2f} to {max(loads):.2f} over the rounds"
    id_share = by_id.per_cpu_second / bare.per_cpu_second
    email_share = by_email.per_cpu_second / bare.per_cpu_second
    rising = resident[-1] > resident[0] * 1.05 + 2 if len(resident) > 1 else False
    return [
        Figure("api", f"rounds: {args.rounds} x {args.seconds} s each, {load}", args.rounds, ""),
        Figure("api", "bare endpoint: requests per second", bare.per_second, "req/s"),
        Figure(
            "api", "bare endpoint: requests per app CPU-second", bare.per_cpu_second, "req/CPU-s"
        ),
        Figure("api", "lookup by id: requests per second", by_id.per_second, "req/s"),
        Figure(
            "api", "lookup by id: requests per app CPU-second", by_id.per_cpu_second, "req/CPU-s"
        ),
        Figure(
            "api",
            "lookup by id / bare, per app CPU-second",
            id_share * 100,
            "%",
            ">= 50 %",
            id_share >= 0.5,
        ),
        Figure(
            "api", "lookup by id / bare, per second", by_id.per_second / bare.per_second * 100, "%"
        ),
        Figure("api", "lookup by email: requests per second", by_email.per_second, "req/s"),
        Figure(
            "api",
            "lookup by email: requests per app CPU-second",
            by_email.per_cpu_second,
            "req/CPU-s",
        ),
        Figure(
            "api",
            "lookup by email / bare, per app CPU-second",
            email_share * 100,
            "%",
            ">= 45 %",
            email_share >= 0.45,
        ),
        Figure(
            "api",
            "lookup by email / bare, per second",
            by_email.per_second / bare.per_second * 100,
            "%",
        ),
        Figure(
            "api",
            "largest worker resident memory after each round",
            " / ".join(f"{mb:.0f}" for mb in resident),
            "MB",
            "no rising line",
            not rising,
        ),
    ]


def _scale(subjects: int, ledger_rows: int, generated: float | None) -> list[Figure]:
    made = f"generated in {generated:.0f} s" if generated is not None else "kept from a run before"
    return [
        Figure(
            "api",
            f"scale: {subjects:,} subjects, {ledger_rows:,} ledger rows ({made})",
            subjects,
            "subjects",
        )
    ]


def _bulk_and_feed(portal: Server, key: str) -> list[Figure]:
    emails = [f"person{n}@bench.example" for n in range(REAL)]
    body = {"brand": "camille", "topic": "news", "channel": "email", "emails": emails}
    timings, cpu = [], []
    for _ in range(7):
        before, started = server_cpu(portal.pid), time.perf_counter()
        answer = _post(portal.base, "/api/v1/consents/check", key, body)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((server_cpu(portal.pid) - before) * 1000)
    assert sum(r["contact"] for r in answer["results"]) == REAL
    bulk = statistics.median(timings[1:])  # the first warms the brand/topic caches
    with WorkerMemory(portal.pid) as memory:
        before = server_cpu(portal.pid)
        feed_rate, streamed = _feed(portal.base, key, 10_000)
        feed_cpu = server_cpu(portal.pid) - before
    small_page_rate, _ = _feed(portal.base, key, 1_000)
    return [
        Figure(
            "api",
            f"audience check of {REAL:,} addresses, median",
            bulk,
            "ms",
            "< 100 ms",
            bulk < 100,
        ),
        Figure(
            "api",
            "audience check, app CPU per check, median (ticks of 10 ms)",
            statistics.median(cpu[1:]),
            "ms",
        ),
        Figure(
            "api",
            f"change feed, pages of 10,000 ({streamed:,} events read)",
            feed_rate,
            "events/s",
            ">= 100,000",
            feed_rate >= 100_000,
        ),
        Figure(
            "api",
            "change feed, pages of 10,000, per app CPU-second",
            streamed / feed_cpu,
            "events/CPU-s",
        ),
        Figure("api", "change feed, pages of 1,000", small_page_rate, "events/s"),
        Figure(
            "api",
            "peak resident memory of one worker (VmHWM), lookups and feed",
            memory.peak_mb,
            "MB",
            "<= 150 MB",
            memory.peak_mb <= 150,
        ),
    ]
