"""The upgrades that partition events, webhook deliveries (migration 5e1d7a3c9b20) and the
outbox (8a4f2c6e1d37) by day, on a populated PostgreSQL database: how long it holds its locks, statement by statement, and how
long the lifecycle run's drop of a whole day takes.

N events (1,000,000; 100,000 with --quick) over 60 days, one delivery and one sent mail each,
written with one
INSERT ... SELECT from generate_series at the revision before. The upgrade runs in one
transaction: every lock it takes (ACCESS EXCLUSIVE on ``event``, ``webhook_delivery`` and
``outbox_message``, from its first statement on each) is held until it commits, so the upgrade's time is the time both
tables are closed to reads and writes. Then a day of N/60 rows after the upgrade is dropped by
``retention.rotate``: the parent's ACCESS EXCLUSIVE moment, against the row-by-row purge of the
same number of rows it replaces. No target: the figures go to the README's upgrade notes.
"""

import time
from datetime import timedelta

from bench.common import Figure, scratch_postgres

BEFORE = "1422728d37c2"


def _populate(count: int) -> None:
    from sqlalchemy import text

    from portal.extensions import db

    db.session.execute(
        text(
            "INSERT INTO site_group (slug, name, default_language, created_at)"
            " VALUES ('bench', 'Bench', 'en', now())"
        )
    )
    db.session.execute(
        text(
            "INSERT INTO api_client (group_id, name, key_prefix, key_hash, scopes,"
            " verified_source, created_at) VALUES (1, 'crm', 'abc', 'h', '[]', false, now())"
        )
    )
    db.session.execute(
        text(
            "INSERT INTO webhook_endpoint (client_id, url, event_types, secret, created_at)"
            " VALUES (1, 'https://crm.example/h', '[]', 'x', now())"
        )
    )
    db.session.execute(
        text(
            "INSERT INTO event (group_id, xid, type, subject_id, payload, created_at)"
            " SELECT 1, n, 'consent.changed', NULL, '{\"topic\": \"news\"}',"
            " now() - interval '60 days' * (1 - n::float / :n) FROM generate_series(1, :n) AS n"
        ),
        {"n": count},
    )
    db.session.execute(
        text(
            "INSERT INTO webhook_delivery (endpoint_id, event_id, status, attempts,"
            " next_attempt_at, created_at, delivered_at, last_status)"
            " SELECT 1, id, 'delivered', 1, created_at, created_at, created_at, 200 FROM event"
        )
    )
    db.session.execute(
        text(
            "INSERT INTO outbox_message (group_id, kind, content, status, attempts,"
            " next_attempt_at, created_at, sent_at, discard_when_done)"
            " SELECT 1, 'topic_mail', '\\x7b7d', 'sent', 1, created_at, created_at, created_at,"
            " false FROM event"
        )
    )
    db.session.commit()
    db.session.execute(text("ANALYZE outbox_message"))
    db.session.execute(text("ANALYZE event"))
    db.session.execute(text("ANALYZE webhook_delivery"))
    db.session.commit()


class _Timings:
    """Each statement's time, as the migration sends it."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.rows: list[tuple[float, str]] = []
        event.listen(engine, "before_cursor_execute", self.before)
        event.listen(engine, "after_cursor_execute", self.after)

    def before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def after(self, conn, cursor, statement, parameters, context, executemany):
        took = time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())
        self.rows.append((took, " ".join(statement.split())[:90]))


def run(quick: bool) -> list[Figure]:
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from portal import create_app
    from portal.core.integrations import retention
    from portal.core.kernel import clock
    from portal.extensions import db

    count = 100_000 if quick else 1_000_000
    figures = []
    with scratch_postgres() as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            upgrade(revision=BEFORE)
            started = time.perf_counter()
            _populate(count)
            print(
                f"   {count:,} events and deliveries written in {time.perf_counter() - started:.0f} s"
            )
            db.session.remove()
            timings = _Timings(db.engine)
            started = time.perf_counter()
            upgrade()
            took = time.perf_counter() - started
            figures.append(
                Figure(
                    "partitions",
                    f"upgrade, {count:,} events, deliveries, mails (locks held)",
                    took,
                    "s",
                )
            )
            slow = sorted(timings.rows, reverse=True)[:12]
            for seconds, statement in slow:
                print(f"   {seconds:7.3f} s  {statement}")
            figures.extend(
                Figure("partitions", f"  of which: {statement}", seconds, "s")
                for seconds, statement in slow
                if seconds >= 0.05
            )

            db.session.remove()
            started = time.perf_counter()
            downgrade(revision=BEFORE)
            figures.append(
                Figure(
                    "partitions",
                    "downgrade (every row copied back, locks held)",
                    time.perf_counter() - started,
                    "s",
                )
            )
            upgrade()

            # A day after the upgrade, N/60 rows, dropped whole by the lifecycle run.
            day = clock.now() + timedelta(days=5)
            retention.rotate(day)
            db.session.execute(
                text(
                    "INSERT INTO event (group_id, xid, type, payload, created_at)"
                    " SELECT 1, n, 'consent.changed', '{}', :day FROM generate_series(1, :n) n"
                ),
                {"day": day, "n": count // 60},
            )
            db.session.commit()
            timings.rows.clear()
            started = time.perf_counter()
            done = retention.rotate(day + timedelta(days=32))
            took = time.perf_counter() - started
            drops = [
                (s, statement)
                for s, statement in timings.rows
                if "DETACH" in statement or "DROP" in statement
            ]
            for seconds, statement in drops:
                print(f"   {seconds * 1000:7.1f} ms  {statement}")
            figures.append(
                Figure(
                    "partitions",
                    f"lifecycle run: the table from before and a day, {done.events:,} events, dropped",
                    took,
                    "s",
                )
            )
            figures.append(
                Figure(
                    "partitions",
                    "  of which DETACH + DROP (parent locked)",
                    sum(s for s, _ in drops) * 1000,
                    "ms",
                )
            )

            db.session.remove()
            db.engine.dispose()
    return figures


if __name__ == "__main__":
    import os
    import sys
    import tempfile

    from bench.common import load_average

    print(f"load average {load_average()}")
    with tempfile.TemporaryDirectory() as keys:
        os.environ["PORTAL_KEYS_URL"] = f"sqlite:///{keys}/bench-keys.sqlite3"
        print(Figure.table(run("--quick" in sys.argv)))
    print(f"load average {load_average()}")
