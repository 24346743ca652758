"""Speed of the change feed alone (``make bench BENCH_ARGS=feed``): a client reading a group's
feed from the start, in pages of 10,000 and of 1,000, served by gunicorn from PostgreSQL.

The same measure as the feed figures of ``bench/api.py``, without generating 1,000,000
subjects first: 10,000 people and 200,000 events (20,000 with --quick), so that a change to
the feed can be compared before and after in a minute. Each page size is read three times
and the median kept; the machine's load average goes with the figures.
"""

import os
import statistics

import sqlalchemy as sa

from bench import api
from bench.common import Figure, load_average, scratch_postgres

TARGET = 100_000  # events/s in pages of 10,000 (issue 19)


def run(quick: bool = False) -> list[Figure]:
    count = 20_000 if quick else 200_000
    port = 19000 + os.getpid() % 1000
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
            large = statistics.median(api._feed(server.base, key, 10_000)[0] for _ in range(3))
            load = load_average()
            small = statistics.median(api._feed(server.base, key, 1_000)[0] for _ in range(3))
    return [
        Figure(
            "feed",
            f"change feed, pages of 10,000 ({count:,} events, load {load})",
            large,
            "events/s",
            f">= {TARGET:,}",
            large >= TARGET,
        ),
        Figure("feed", "change feed, pages of 1,000", small, "events/s"),
    ]
