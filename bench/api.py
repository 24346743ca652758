"""Speed of the consent API against PostgreSQL, served by gunicorn (``make bench``).

At --scale 1: 1,000,000 subjects and 10,000,000 ledger rows, generated in SQL with
generate_series. Single lookups are compared with a bare Flask endpoint reading one row by
primary key, measured in the same run by wrk; single lookups are measured at 10,000 subjects
first and again at full size.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import sqlalchemy as sa

from bench.common import Figure

ROOT = Path(__file__).resolve().parent.parent
REAL = 10_000  # subjects with genuine keyed hashes: the ones looked up and checked
KEYS = {
    "SECRET_KEY": "bench-secret-" + "x" * 40,
    "PORTAL_DATA_KEY": "YmVuY2gtZGF0YS1rZXktYmVuY2gtZGF0YS1rZXktYmU=",
    "PORTAL_HASH_KEY": "YmVuY2gtaGFzaC1rZXktYmVuY2gtaGFzaC1rZXktYmU=",
}


def _prepare(url: str) -> tuple[str, int]:
    """Migrate, load the demo group, add REAL genuine subjects; returns (API key, group id)."""
    os.environ.update(KEYS)
    from flask_migrate import upgrade

    from portal import create_app
    from portal.core import clients, subjects
    from portal.core.demo import load
    from portal.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        group, _ = load()
        _, key = clients.create("luxe", "bench", ["consent:read", "events:read"])
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
        group_id = group.id
        db.engine.dispose()
    return key, group_id


def _grow(engine, group_id: int, first: int, last: int) -> None:
    """Subjects first..last (fake hashes, beyond REAL), 2 consents and 10 ledger rows each."""
    with engine.begin() as c:
        params = {"g": group_id, "a": first, "b": last}
        if last > REAL:
            c.execute(
                sa.text(
                    "INSERT INTO subject (group_id, email_hash, email, status, language, created_at) "
                    "SELECT :g, md5(n::text) || md5('x' || n), '\\x00'::bytea, 'active', 'en', now() "
                    "FROM generate_series(greatest(:a, :r + 1), :b) n"
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
                "INSERT INTO ledger_entry (group_id, seq, subject_id, brand_id, topic_id, channel, "
                "action, source, occurred_at, actor, personal_digest, prev_hash, hash) "
                "SELECT :g, (s.id - 1) * 10 + k + 1000, s.id, :brand, :topic, 'email', 'granted', "
                "'import', now(), 'bench', md5(s.id::text) || md5(k::text), '', md5(k || 'h') "
                "FROM subject s, generate_series(0, 9) k WHERE s.id BETWEEN :a AND :b"
            ),
            {**params, "brand": topics[0][1], "topic": topics[0][0]},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(sa.text("ANALYZE"))


def _events(engine, group_id: int, count: int) -> None:
    with engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO event (group_id, seq, type, brand_id, subject_id, payload, created_at) "
                "SELECT :g, n, 'consent.changed', b.id, (n % :r) + 1, json_build_object('subject_id', "
                "(n % :r) + 1, 'brand', b.slug, 'topic', 'news', 'channel', 'email', 'state', "
                "'granted', 'since', now()::text, 'source', 'import', 'policy_version', '2026-01'), "
                "now() FROM generate_series(1, :n) n, (SELECT id, slug FROM brand WHERE group_id = :g "
                "ORDER BY id LIMIT 1) b"
            ),
            {"g": group_id, "n": count, "r": REAL},
        )
        c.execute(
            sa.text("UPDATE site_group SET event_seq = :n WHERE id = :g"),
            {"n": count, "g": group_id},
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


def _random_get(path: str, key: str) -> str:
    return (
        "math.randomseed(os.time())\n"
        "request = function()\n"
        f"  local id = math.random(1, {REAL})\n"
        f"  return wrk.format('GET', '{path}' .. id .. '{'/consents' if 'subjects' in path else ''}',"
        f" {{['Authorization'] = 'Bearer {key}'}})\n"
        "end\n"
    )


def _lookups(base: str, key: str, seconds: int) -> tuple[float, float]:
    bare = _wrk(base, _random_get("/bench/bare/", key), seconds)
    api = _wrk(base, _random_get("/api/v1/subjects/", key), seconds)
    return bare, api


def _post(base, path, key, body) -> dict:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def _get(base, path, key) -> dict:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def _serve(url: str, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        **KEYS,
        "DATABASE_URL": url,
        "RATELIMIT_API": "10000000 per minute",
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
    """Full scale by default; --quick (or BENCH_API_SCALE) for a reduced one."""
    scale = os.environ.get("BENCH_API_SCALE") or ("0.01" if quick else "1.0")
    seconds = os.environ.get("BENCH_API_SECONDS") or ("5" if quick else "10")
    return _run(["--scale", scale, "--seconds", seconds])


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
        "--postgres",
        default=os.environ.get(
            "PORTAL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args(argv)
    total = max(REAL, int(1_000_000 * args.scale))
    name = f"portal_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = args.postgres.rsplit("/", 1)[0] + "/" + name
    engine = sa.create_engine(url)
    port = 18000 + os.getpid() % 1000
    base = f"http://127.0.0.1:{port}"
    server = None
    try:
        key, group_id = _prepare(url)
        _grow(engine, group_id, 1, REAL)
        server = _serve(url, port)
        small_bare, small_api = _lookups(base, key, args.seconds)
        server.terminate()
        server.wait()
        started = time.perf_counter()
        _grow(engine, group_id, REAL + 1, total)
        _events(engine, group_id, min(total, 200_000))
        generated = time.perf_counter() - started
        server = _serve(url, port)
        bare, api = _lookups(base, key, args.seconds)
        emails = [f"person{n}@bench.example" for n in range(REAL)]
        body = {"brand": "camille", "topic": "news", "channel": "email", "emails": emails}
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            answer = _post(base, "/api/v1/consents/check", key, body)
            timings.append((time.perf_counter() - started) * 1000)
        assert sum(r["contact"] for r in answer["results"]) == REAL
        started, streamed, cursor = time.perf_counter(), 0, ""
        while True:
            page = _get(base, f"/api/v1/events?limit=1000&after={cursor}", key)
            streamed += len(page["events"])
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        feed_rate = streamed / (time.perf_counter() - started)
        with engine.connect() as c:
            ledger_rows = c.execute(sa.text("SELECT count(*) FROM ledger_entry")).scalar()
    finally:
        if server:
            server.terminate()
            server.wait()
        engine.dispose()
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    bulk = statistics.median(timings)
    return [
        Figure(
            "api",
            f"scale: {total:,} subjects, {ledger_rows:,} ledger rows "
            f"(generated in {generated:.0f} s)",
            total,
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
            f"change feed ({streamed:,} events streamed)",
            feed_rate,
            "events/s",
            ">= 50,000",
            feed_rate >= 50_000,
        ),
    ]
