"""Cost of one sign-up: the form POST that records the request for its confirmation mail
(``address_request``, which the outbox worker turns into the mail), served by gunicorn on
PostgreSQL and Redis (the sign-up limits, shared across instances, counted in Redis as in
production).

Reported per app CPU-second (the gunicorn master's and workers' utime + stime over the run)
and per database CPU-second (the PostgreSQL backends serving the portal's connections, read
from /proc by their pids in pg_stat_activity): figures that hold on a shared machine, where
requests per second follow whatever else runs. Each client reads the form once, then posts
it again and again with a new address; no outbox worker runs, so every request stays
recorded and is counted at the end.
"""

import secrets
import threading
import time

import sqlalchemy as sa

from bench.common import Figure, backend_cpu, scratch_postgres, server_cpu
from bench.load import (
    BRANDS,
    CSRF,
    TEXT,
    TOPIC,
    Client,
    Stats,
    _environment,
    _flask,
    _free_port,
    _gunicorn,
    _wait_until_up,
)

GOAL = 120  # sign-ups per app CPU-second
# A sign-up is one row asking for the mail: the outbox worker decides (new person, known one,
# already confirmed) and queues the matching mail, outside the request (its cost is not here).
COUNT = "SELECT count(*) FROM address_request"


def _backends(engine, database: str) -> list[int]:
    """The pids of the backends connected to ``database`` but this bench's own."""
    with engine.connect() as c:
        return list(
            c.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :d "
                    "AND pid <> pg_backend_pid()"
                ),
                {"d": database},
            ).scalars()
        )


def _signer(port: int, deadline: float, counts: list[int], index: int, stats: Stats) -> None:
    client = Client(port, stats)
    brand = BRANDS[index % len(BRANDS)]
    status, page = client.request("GET", f"/luxe/join/{brand}")
    assert status == 200, status
    form = {
        "csrf_token": CSRF.search(page).group(1),
        "text_version": TEXT.search(page).group(1),
        "topics": TOPIC.findall(page)[:2],
    }
    while time.monotonic() < deadline:
        address = f"signup-{secrets.token_hex(6)}@example.com"
        status, text = client.request("POST", f"/luxe/join/{brand}", form | {"email": address})
        if status != 200:
            raise RuntimeError(f"sign-up answered {status}: {text[:500]}")
        counts[index] += 1


def _round(port: int, seconds: float, clients: int) -> int:
    counts, stats = [0] * clients, Stats()
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(target=_signer, args=(port, deadline, counts, i, stats))
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts)


def run(quick: bool) -> list[Figure]:
    seconds, clients = (8, 4) if quick else (30, 8)
    with scratch_postgres() as database_url:
        port = _free_port()
        env = _environment(database_url, _free_port(), port, f"bench{secrets.token_hex(3)}")
        for command in (["db", "upgrade"], ["demo", "load"]):
            _flask(command, env)
        engine = sa.create_engine(database_url)
        database = database_url.rsplit("/", 1)[1]
        with _gunicorn(port, env) as server:
            _wait_until_up(port)
            _round(port, 3, clients)  # warm: imports, pools, caches
            with engine.connect() as c:
                queued_before = c.execute(sa.text(COUNT)).scalar()
            backends = _backends(engine, database)
            app_before = server_cpu(server.pid)
            db_before = {pid: backend_cpu([pid]) for pid in backends}
            started = time.monotonic()
            done = _round(port, seconds, clients)
            elapsed = time.monotonic() - started
            app_cpu = server_cpu(server.pid) - app_before
            backends = _backends(engine, database)
            db_cpu = sum(backend_cpu([pid]) - db_before.get(pid, 0.0) for pid in backends)
            with engine.connect() as c:
                queued = c.execute(sa.text(COUNT)).scalar()
        engine.dispose()
    queued -= queued_before
    per_app = done / app_cpu
    return [
        Figure("signups", f"sign-ups posted ({clients} clients, {elapsed:.0f} s)", done, ""),
        Figure(
            "signups",
            "sign-up requests recorded for the outbox worker",
            queued,
            f"of {done}",
            str(done),
            queued == done,
        ),
        Figure("signups", "sign-ups per second", done / elapsed, "req/s"),
        Figure(
            "signups",
            "sign-ups per app CPU-second",
            per_app,
            "req/CPU-s",
            f">= {GOAL} (goal)",
            per_app >= GOAL,
        ),
        Figure("signups", "sign-ups per database CPU-second", done / db_cpu, "req/CPU-s"),
    ]
