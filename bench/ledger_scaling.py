"""Consent writes per second through the API when the database is 2 ms away: all writers on one
site group against the same writers spread over four groups.

With one ledger chain per group, every consent write of a group queued behind the group's
row lock from its first ledger row to its commit, so one group stayed flat whatever the
number of writers, while four groups went four times as far. With one chain per person, one
group should reach (nearly) what four reach. Goal: at 16 writers, one group at least 90 % of
four groups.

Set-up: gunicorn (4 workers x 4 threads) on a scratch PostgreSQL database reached through
``bench.delay_proxy`` (+2 ms per round trip; this kernel has no ``netem``); the demo group and
three copies of it; an API client per group (consent:write). Each writer is a thread with its
own keep-alive connection, POSTing /api/v1/consents for people of its own (a grant, then a
withdrawal, and so on: every answer a change and a ledger row). A thread samples pg_locks for
the backends waiting on a lock meanwhile. Writers, gunicorn, PostgreSQL and the proxy share
this machine's cores, so the figures are for the whole set-up: read them with the load average.

``BENCH_PORTAL_ROOT=/path/to/another/checkout`` runs the servers from that tree (its
migrations, its code) with this tree's bench: how the baseline on main was measured.
"""

import http.client
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from bench.common import Figure, load_average, percentile, scratch_postgres
from bench.delay_proxy import DelayProxy
from bench.load import KEY, _environment, _free_port, _wait_until_up

BIN = Path(sys.executable).parent

DELAY = 0.002
GROUPS = 4
WRITERS = (4, 16)
GOAL = 0.9


def _portal_root() -> Path:
    return Path(os.environ.get("BENCH_PORTAL_ROOT", Path(__file__).resolve().parent.parent))


def _columns(connection, table: str) -> list[str]:
    return list(
        connection.execute(
            sa.text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
                "AND column_name <> 'id' ORDER BY ordinal_position"
            ),
            {"t": table},
        ).scalars()
    )


def _copy(connection, table: str, where: str, params: dict, changes: dict) -> dict[int, int]:
    """Copy rows of ``table`` (any schema version: the columns are read from the database),
    with ``changes`` (column -> SQL expression); returns {old id: new id}."""
    columns = _columns(connection, table)
    chosen = ", ".join(changes.get(c, f'"{c}"') for c in columns)
    names = ", ".join(f'"{c}"' for c in columns)
    mapping = {}
    for (old,) in connection.execute(sa.text(f"SELECT id FROM {table} WHERE {where}"), params):
        mapping[old] = connection.execute(
            sa.text(
                f"INSERT INTO {table} ({names}) SELECT {chosen} FROM {table} WHERE id = :o "
                "RETURNING id"
            ),
            {**params, "o": old},
        ).scalar_one()
    return mapping


def _more_groups(database_url: str) -> None:
    """Three copies of the demo group (its brands, topics and texts), slugs g1, g2, g3."""
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        luxe = connection.execute(sa.text("SELECT id FROM site_group WHERE slug = 'luxe'")).scalar()
        for n in range(1, GROUPS):
            [group] = _copy(
                connection,
                "site_group",
                "id = :g",
                {"g": luxe, "slug": f"g{n}"},
                {"slug": ":slug", "name": ":slug"},
            ).values()
            brands = _copy(
                connection,
                "brand",
                "group_id = :g",
                {"g": luxe, "new": group},
                {"group_id": ":new"},
            )
            for old, new in brands.items():
                for table in ("topic", "consent_text"):
                    _copy(
                        connection,
                        table,
                        "brand_id = :b",
                        {"b": old, "nb": new},
                        {"brand_id": ":nb"},
                    )
    engine.dispose()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors = 0
        self.statuses: dict[int, int] = {}
        self.sample = ""  # the first refusal's answer, to say why

    def record(self, seconds: float, status: int, answer: bytes = b"") -> None:
        with self.lock:
            if status not in (200, 202) and not self.sample:
                self.sample = answer.decode(errors="replace")[:300]
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status in (200, 202):
                self.latencies.append(seconds)
            else:
                self.errors += 1


def _writer(port: int, key: str, index: int, stop: threading.Event, stats: Stats, run: str):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    people = [f"{run}-w{index}-{n}@example.org" for n in range(64)]
    rounds = 0
    while not stop.is_set():
        action = "grant" if rounds % 2 == 0 else "withdraw"
        for address in people:
            if stop.is_set():
                break
            body = json.dumps(
                {
                    "email": address,
                    "brand": "camille",
                    "topic": "events",
                    "channel": "sms",
                    "action": action,
                    "captured_at": datetime.now(UTC).isoformat(),
                    "text_version": 1,
                    "evidence": {"agent": f"agent-{index}", "recording": f"rec-{rounds}"},
                }
            )
            headers = {
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
                "Idempotency-Key": secrets.token_hex(12),
            }
            started = time.perf_counter()
            try:
                connection.request("POST", "/api/v1/consents", body, headers)
                response = connection.getresponse()
                answer, status = response.read(), response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                answer, status = b"", 0
            stats.record(time.perf_counter() - started, status, answer)
        rounds += 1
    connection.close()


def _waiting(database_url: str, stop: threading.Event, samples: list[int], on: dict) -> None:
    """Backends of the bench's database waiting for a lock, four times a second, and what
    they were running (the first words of the statement that waits), to say which lock."""
    engine = sa.create_engine(database_url)
    query = sa.text(
        "SELECT left(regexp_replace(a.query, '\\s+', ' ', 'g'), 40) FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE NOT l.granted AND a.datname = current_database()"
    )
    with engine.connect() as connection:
        while not stop.wait(0.25):
            statements = connection.execute(query).scalars().all()
            connection.commit()
            samples.append(len(statements))
            for statement in statements:
                on[statement] = on.get(statement, 0) + 1
    engine.dispose()


def _measure(port, keys, writers, spread, seconds, database_url, run) -> dict:
    stats, stop, samples, on = Stats(), threading.Event(), [], {}
    threads = [
        threading.Thread(
            target=_writer,
            args=(port, keys[i % GROUPS if spread else 0], i, stop, stats, run),
        )
        for i in range(writers)
    ]
    monitor = threading.Thread(target=_waiting, args=(database_url, stop, samples, on))
    for thread in threads:
        thread.start()
    time.sleep(min(3.0, seconds / 4))  # warm-up: connections, first sign-ups
    with stats.lock:
        stats.latencies.clear()
        stats.errors, stats.statuses = 0, {}
    monitor.start()
    started = time.monotonic()
    time.sleep(seconds)
    with stats.lock:
        done, latencies, errors = len(stats.latencies), list(stats.latencies), stats.errors
        statuses = dict(stats.statuses)
    elapsed = time.monotonic() - started
    load = load_average()
    stop.set()
    for thread in [*threads, monitor]:
        thread.join(60)
    return {
        "rate": done / elapsed,
        "p50": percentile(latencies, 0.5) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "errors": errors,
        "statuses": statuses,
        "waiting": sum(samples) / len(samples) if samples else 0.0,
        "load": load,
        "refusal": stats.sample,
        "waiting_on": sorted(on.items(), key=lambda item: -item[1])[:3],
    }


def _figures(writers: int, label: str, found: dict) -> list[Figure]:
    name = f"{writers} writers, {label}"
    return [
        Figure("ledger_scaling", f"{name}: consent writes", round(found["rate"], 1), "/s"),
        Figure("ledger_scaling", f"{name}: p50", round(found["p50"], 1), "ms"),
        Figure("ledger_scaling", f"{name}: p99", round(found["p99"], 1), "ms"),
        Figure(
            "ledger_scaling",
            f"{name}: errors (statuses {found['statuses']})",
            found["errors"],
            "",
            "0",
            found["errors"] == 0,
        ),
        Figure(
            "ledger_scaling",
            f"{name}: backends waiting on a lock (mean; mostly in {found['waiting_on'][:1]})",
            round(found["waiting"], 1),
            "",
        ),
        Figure("ledger_scaling", f"{name}: load average at the end", float(found["load"]), ""),
    ]


def run(quick: bool) -> list[Figure]:
    seconds = 8 if quick else 30
    root = _portal_root()
    figures = []
    with ExitStack() as stack, scratch_postgres() as direct_url:
        proxy = stack.enter_context(DelayProxy(5432, DELAY))
        delayed_url = direct_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        port = _free_port()
        env = _environment(delayed_url, _free_port(), port, f"ledger{secrets.token_hex(3)}")
        env.update(GUNICORN_WORKERS="4", GUNICORN_THREADS="4", LOG_LEVEL="ERROR")
        env["DATABASE_LOCK_TIMEOUT_MS"] = "60000"
        env["DATABASE_STATEMENT_TIMEOUT_MS"] = "60000"
        setup = dict(env, DATABASE_URL=direct_url)
        _flask_in(root, ["db", "upgrade"], setup)
        _flask_in(root, ["demo", "load"], setup)
        _more_groups(direct_url)
        keys = [
            KEY.search(
                _flask_in(
                    root,
                    [
                        "api-clients",
                        "create",
                        "--group",
                        slug,
                        "--name",
                        "Ledger bench",
                        "--scope",
                        "consent:write",
                        "--verified-source",
                    ],
                    setup,
                )
            ).group(1)
            for slug in ["luxe", *[f"g{n}" for n in range(1, GROUPS)]]
        ]
        stack.enter_context(_gunicorn_in(root, port, env))
        _wait_until_up(port)
        found = {}
        for writers in WRITERS:
            for spread, label in ((False, "one group"), (True, "four groups")):
                run_id = f"{writers}{'f' if spread else 'o'}{secrets.token_hex(2)}"
                found[writers, spread] = result = _measure(
                    port, keys, writers, spread, seconds, direct_url, run_id
                )
                figures += _figures(writers, label, result)
                print(f"   {writers} writers, {label}: {result}", flush=True)
        one, four = found[16, False]["rate"], found[16, True]["rate"]
        ratio = one / four if four else 0.0
        figures.append(
            Figure(
                "ledger_scaling",
                f"16 writers: one group / four groups (servers from {root.name})",
                round(ratio, 2),
                "",
                f">= {GOAL}",
                ratio >= GOAL,
            )
        )
    return figures


def _flask_in(root: Path, command: list[str], env: dict) -> str:
    return subprocess.run(
        [str(BIN / "flask"), *command],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@contextmanager
def _gunicorn_in(root: Path, port: int, env: dict):
    arguments = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}"]
    server = subprocess.Popen(
        [*arguments, "wsgi:app"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield server
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
