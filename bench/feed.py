"""Speed of the change feed alone (``make bench BENCH_ARGS=feed``): a client reading a group's
feed from the start, in pages of 10,000 and of 1,000, served by gunicorn from PostgreSQL.

The same measure as the feed figures of ``bench/api.py``, without generating 1,000,000
subjects first: 10,000 people and 200,000 events (20,000 with --quick), so that a change to
the feed can be compared before and after in a minute. Each page size is read three times
and the median kept. With the figures: the machine's load average, the CPU time a page of
10,000 costs the app (gunicorn's processes) and the database (its backends), and the largest
peak resident memory of one worker.
"""

import statistics

import sqlalchemy as sa

from bench import api
from bench.common import (
    Figure,
    WorkerMemory,
    backend_cpu,
    load_average,
    scratch_postgres,
    server_cpu,
)
from bench.load import _free_port

TARGET = 100_000  # events/s in pages of 10,000 (issue 19)


def run(quick: bool = False) -> list[Figure]:
    count = 20_000 if quick else 200_000
    port = _free_port()
    with scratch_postgres() as url:
        api._prepare(url)
        engine = sa.create_engine(url)
        with engine.connect() as c:
            group_id = c.execute(sa.text("SELECT id FROM site_group WHERE slug = 'luxe'")).scalar()
        engine.dispose()
        api._events(sa.create_engine(url), group_id, count)
        api._vacuum(sa.create_engine(url))
        key, _ = api._new_key(url)
        with api._portal(url, port) as server:
            api._feed(server.base, key, 10_000)  # warm the workers and the cache once
            engine = sa.create_engine(url)
            with engine.connect() as c:
                backends = c.execute(
                    sa.text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()"
                    )
                ).scalars()
                backends = list(backends)
            engine.dispose()
            rates, app_cpu, db_cpu, pages, events = [], 0.0, 0.0, 0, 0
            with WorkerMemory(server.pid) as memory:
                for _ in range(3):
                    app_before, db_before = server_cpu(server.pid), backend_cpu(backends)
                    rate, read = api._feed(server.base, key, 10_000)
                    app_cpu += server_cpu(server.pid) - app_before
                    db_cpu += backend_cpu(backends) - db_before
                    rates.append(rate)
                    pages += -(-read // 10_000)
                    events += read
            large = statistics.median(rates)
            load = load_average()
            small = statistics.median(api._feed(server.base, key, 1_000)[0] for _ in range(3))
    per_page = f"{app_cpu / pages * 1000:.0f} ms app, {db_cpu / pages * 1000:.0f} ms database"
    return [
        Figure(
            "feed",
            f"change feed, pages of 10,000 ({count:,} events, load {load})",
            large,
            "events/s",
            f">= {TARGET:,}",
            large >= TARGET,
        ),
        Figure(
            "feed",
            "change feed, pages of 10,000, per app CPU-second",
            events / app_cpu,
            "events/CPU-s",
        ),
        Figure("feed", f"CPU per page of 10,000 ({per_page})", app_cpu / pages * 1000, "ms app"),
        Figure(
            "feed",
            "peak resident memory of one worker (VmHWM), pages of 10,000",
            memory.peak_mb,
            "MB",
            "<= 150 MB",
            memory.peak_mb <= 150,
        ),
        Figure("feed", "change feed, pages of 1,000", small, "events/s"),
    ]
