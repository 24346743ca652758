"""Bulk capture: captured consent changes per second through POST /api/v1/consents/bulk.

The issue's goal: at least 2,000 changes a second on PostgreSQL on this machine, so that a CRM
syncing a million records takes minutes (single writes under the default rate limit took
about 28 hours). gunicorn (2 workers) serves the app on a scratch database; two client threads
send requests of 1,000 changes each, as a sync job with two connections would. Three passes
over the same people: grants to people the portal does not know yet (each change adds a
person), withdrawals of those consents (each changes a consent), and the same withdrawals
sent again with the same keys (each answered from its kept answer). The client threads, the
database and gunicorn share the machine's cores, so the figures are for the whole set-up.

A machine shared with other work slows the wall-clock figure without saying by how much, so
the CPU time the work itself took is measured too: gunicorn's processes and the PostgreSQL
backends of the bench's database (from /proc). Changes per CPU-second is what the portal and
its database need whatever else runs; on a quiet machine the wall-clock figure approaches it
times the cores they can use.
"""

import os
import secrets
import subprocess
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from bench.api import KEYS, _app, _post, _serve
from bench.common import Figure, scratch_postgres
from bench.load import _free_port

PEOPLE = 100_000
PER_REQUEST = 1000
THREADS = 2
TARGET = 2000.0  # changes per second


def _prepare(url: str) -> str:
    """Migrate, load the demo group, make a client that may write; returns its key."""
    from flask_migrate import upgrade

    from portal.core.console.demo import load
    from portal.core.integrations import clients
    from portal.core.kernel.models.group import SiteGroup
    from portal.extensions import db

    app = _app(url)
    with app.app_context():
        upgrade()
        load()
        db.session.execute(db.update(SiteGroup).values(created_at=datetime(2025, 1, 1, tzinfo=UTC)))
        terms = ("Bench: writes captured consent.", date(2025, 1, 15))
        _, key = clients.create("luxe", "bench-sync", ["consent:write"], terms=terms)
        db.session.commit()
        db.engine.dispose()
    return key


def _changes(people: range, action: str, run: str) -> list[dict]:
    at = "2025-03-01T10:00:00+00:00" if action == "grant" else "2025-03-02T10:00:00+00:00"
    changes = []
    for n in people:
        change = {
            "key": f"{run}-{action}-{n}",
            "email": f"{run}.person{n}@bench.example",
            "brand": "camille",
            "topic": "events",
            "channel": "sms",
            "action": action,
            "captured_at": at,
            "evidence": {"store": f"store-{n % 40}", "agent": f"agent-{n % 300}"},
        }
        if action == "grant":
            change["text_version"] = 1
        changes.append(change)
    return changes


def _cpu(pids: list[int]) -> float:
    """CPU seconds (user and system) the processes ``pids`` have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone: a backend that ended
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _workers(server: subprocess.Popen, url: str) -> list[int]:
    """gunicorn's master and workers, and PostgreSQL's backends serving the bench database."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        backends = connection.scalars(
            sa.text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).all()
    engine.dispose()
    return [server.pid, *map(int, children), *backends]


def _pass(base: str, key: str, people: int, action: str, run: str) -> tuple[float, dict]:
    """Send every change of one pass from THREADS threads; (changes per second, counts)."""
    requests = [
        _changes(range(first, min(first + PER_REQUEST, people)), action, run)
        for first in range(0, people, PER_REQUEST)
    ]
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def send():
        while True:
            with lock:
                if not requests:
                    return
                changes = requests.pop()
            answer = _post(base, "/api/v1/consents/bulk", key, {"changes": changes})
            with lock:
                for name, value in answer["counts"].items():
                    counts[name] = counts.get(name, 0) + value

    threads = [threading.Thread(target=send) for _ in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return people / (time.perf_counter() - started), counts


def run(quick: bool = False) -> list[Figure]:
    people = int(os.environ.get("BENCH_BULK_PEOPLE") or (PEOPLE // 10 if quick else PEOPLE))
    run_id = secrets.token_hex(3)
    with scratch_postgres() as url:
        os.environ.update(KEYS)
        key = _prepare(url)
        port = _free_port()
        server = _serve(url, port)
        try:
            base = f"http://127.0.0.1:{port}"
            _pass(base, key, min(people, 2 * PER_REQUEST), "grant", "warm")  # warm-up
            pids = _workers(server, url)  # the pools' connections are open by now
            cpu = [_cpu(pids)]
            grants, granted = _pass(base, key, people, "grant", run_id)
            cpu.append(_cpu(pids))
            withdrawals, withdrawn = _pass(base, key, people, "withdraw", run_id)
            cpu.append(_cpu(pids))
            replays, replayed = _pass(base, key, people, "withdraw", run_id)
        finally:
            server.terminate()
            server.wait(30)
    assert granted == {"applied": people, "unchanged": 0, "stale": 0, "refused": 0}, granted
    assert withdrawn.get("applied") == people, withdrawn
    assert replayed == withdrawn, replayed
    scale = f"{people:,} changes, PostgreSQL"
    target = f">= {TARGET:,.0f}/s"
    per_cpu = [people / max(cpu[n + 1] - cpu[n], 1e-9) for n in range(2)]
    return [
        Figure(
            "bulk", f"grants to new people ({scale})", grants, "changes/s", target, grants >= TARGET
        ),
        Figure("bulk", "grants per CPU-second (gunicorn + PostgreSQL)", per_cpu[0], "changes"),
        Figure(
            "bulk",
            f"withdrawals ({scale})",
            withdrawals,
            "changes/s",
            target,
            withdrawals >= TARGET,
        ),
        Figure("bulk", "withdrawals per CPU-second (gunicorn + PostgreSQL)", per_cpu[1], "changes"),
        Figure("bulk", f"the withdrawals replayed by key ({scale})", replays, "changes/s"),
    ]
