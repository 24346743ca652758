"""Speed of the consent API against PostgreSQL, served by gunicorn (``make bench``).

At --scale 1: 1,000,000 subjects and 10,000,000 ledger rows, generated in SQL with
generate_series. Single lookups are compared with a bare Flask endpoint reading one row by
primary key, measured in the same run by wrk; single lookups are measured at 10,000 subjects
first and again at full size.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import date
from pathlib import Path

import orjson
import sqlalchemy as sa

from bench.common import Figure

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


def _wrk(base: str, path_lua: str, seconds: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(path_lua)
    output = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", "-s", script.name, base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def _random_get(path: str, key: str, upto: int) -> str:
    return (
        "math.randomseed(os.time())\n"
        "request = function()\n"
        f"  local id = math.random(1, {upto})\n"
        f"  return wrk.format('GET', '{path}' .. id .. '{'/consents' if 'subjects' in path else ''}',"
        f" {{['Authorization'] = 'Bearer {key}'}})\n"
        "end\n"
    )


def _lookups(base: str, key: str, seconds: int, upto: int, rounds: int = 3) -> tuple[float, float]:
    """Requests per second of the bare endpoint and of single lookups of subjects 1..upto (the
    demo group has no others), taken in turns so that whatever else the machine does weighs on
    both alike."""
    bare, api = [], []
    for _ in range(rounds):
        bare.append(_wrk(base, _random_get("/bench/bare/", key, upto), seconds))
        api.append(_wrk(base, _random_get("/api/v1/subjects/", key, upto), seconds))
    return statistics.median(bare), statistics.median(api)


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


def _serve(url: str, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        **KEYS,
        "DATABASE_URL": url,
        "RATELIMIT_API": "10000000 per minute",  # counted in Redis, as in production
        "RATELIMIT_STORAGE_URI": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379"),
        "RATELIMIT_KEY_PREFIX": f"bench{port}",
        "PORTAL_ENV": "development",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "bench.wsgi:app",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("gunicorn did not start")


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


def _measure_lookups(url: str, port: int, seconds: int) -> tuple[float, float]:
    key, _ = _new_key(url)
    engine = sa.create_engine(url)
    with engine.connect() as c:
        upto = c.execute(sa.text("SELECT max(id) FROM subject")).scalar()
    engine.dispose()
    server = _serve(url, port)
    try:
        return _lookups(f"http://127.0.0.1:{port}", key, seconds, upto)
    finally:
        server.terminate()
        server.wait()


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
    args = parser.parse_args(argv)
    total = max(REAL, int(1_000_000 * args.scale))
    port = 18000 + os.getpid() % 1000
    base = f"http://127.0.0.1:{port}"

    small, _ = _database(args, REAL)
    try:
        small_bare, small_api = _measure_lookups(small, port, args.seconds)
    finally:
        _drop(args, small)

    url, generated = _database(args, total)
    server = None
    try:
        bare, api = _measure_lookups(url, port, args.seconds)
        key, _ = _new_key(url)
        server = _serve(url, port)
        emails = [f"person{n}@bench.example" for n in range(REAL)]
        body = {"brand": "camille", "topic": "news", "channel": "email", "emails": emails}
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            answer = _post(base, "/api/v1/consents/check", key, body)
            timings.append((time.perf_counter() - started) * 1000)
        assert sum(r["contact"] for r in answer["results"]) == REAL
        feed_rate, streamed = _feed(base, key, 10_000)
        small_page_rate, _ = _feed(base, key, 1_000)
        engine = sa.create_engine(url)
        with engine.connect() as c:
            ledger_rows = c.execute(sa.text("SELECT count(*) FROM ledger_entry")).scalar()
            subject_rows = c.execute(sa.text("SELECT count(*) FROM subject")).scalar()
        engine.dispose()
    finally:
        if server:
            server.terminate()
            server.wait()
        _drop(args, url)
    bulk = statistics.median(timings)
    made = f"generated in {generated:.0f} s" if generated is not None else "kept from a run before"
    return [
        Figure(
            "api",
            f"scale: {subject_rows:,} subjects, {ledger_rows:,} ledger rows ({made})",
            subject_rows,
            "subjects",
        ),
        Figure("api", "bare endpoint (one row by primary key)", bare, "req/s"),
        Figure("api", "single consent lookup", api, "req/s", ">= 60 % of bare", api >= 0.6 * bare),
        Figure("api", "single lookup / bare", api / bare * 100, "%"),
        Figure(
            "api", "single lookup at 10,000 subjects / bare then", small_api / small_bare * 100, "%"
        ),
        Figure(
            "api",
            "single lookup at full scale / at 10,000",
            api / small_api * 100,
            "%",
            "about 100 %",
            api / small_api >= 0.85,
        ),
        Figure("api", "bulk check of 10,000 addresses, median", bulk, "ms", "< 300 ms", bulk < 300),
        Figure(
            "api",
            f"change feed, pages of 10,000 ({streamed:,} events read)",
            feed_rate,
            "events/s",
            ">= 50,000",
            feed_rate >= 50_000,
        ),
        Figure("api", "change feed, pages of 1,000", small_page_rate, "events/s"),
    ]
