"""Tables partitioned by day on PostgreSQL (events, webhook deliveries, the outbox), so that
retention drops a whole old day instead of deleting its rows one by one (no dead rows, no
vacuum, no index bloat); SQLite keeps plain tables.

Each partitioned table (``TABLES``) is split by its creation time into one partition a day,
``<table>_p<YYYYMMDD>`` holding ``[day, day + 1)`` in UTC, plus ``<table>_pdefault`` that takes
any row no day holds, so an insert never fails. The migration that partitioned the tables
attached the table as it was as the first partition (``<table>_plegacy``, everything before
its day's end). ``ensure`` (``flask lifecycle run``) makes the days ahead; ``drop`` removes one.

Locks: a day is made as a table of its own, then attached (SHARE UPDATE EXCLUSIVE on the
parent: reads and writes go on; ACCESS EXCLUSIVE on the default partition for the moment of
checking that it holds none of the day's rows, which it moves over first if it does). Dropping
a day takes the parent's ACCESS EXCLUSIVE lock for a moment. Both run with a short
``lock_timeout`` (``LOCK_TIMEOUT``): behind a long transaction they give up, without queueing
every writer behind them, and the next run tries again.

The primary key of a partitioned table must hold the partition key: on PostgreSQL it is
(``id``, ``created_at``); ids come from one sequence, so ``id`` alone still names a row, and
the models keep declaring ``id`` as their key.
"""

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

# The tables partitioned by day, and the column the day is read from.
TABLES = {"event": "created_at", "webhook_delivery": "created_at", "outbox_message": "created_at"}
AHEAD_DAYS = 3  # days made ahead of today, today included
LOCK_TIMEOUT = "1s"
_BOUND = re.compile(r"FROM \((MINVALUE|'[^']+')\) TO \((MAXVALUE|'[^']+')\)")


def key_of(model) -> tuple:
    """The columns that name one row of ``model``: its id and, for a table partitioned by day,
    its creation time too. By id alone PostgreSQL probes every partition's key index (one a
    day kept); with the time it reads the row's own day. Ids come from one sequence, so the
    time only narrows the search."""
    table = model.__tablename__
    return (model.id, getattr(model, TABLES[table])) if table in TABLES else (model.id,)


def named(model, keys) -> tuple:
    """Where-clauses naming the rows ``keys`` (rows of ``key_of(model)``'s columns)."""
    return tuple(
        column.in_(sorted({key[n] for key in keys})) for n, column in enumerate(key_of(model))
    )


def partition_by(table: str) -> str:
    """What a model passes as ``postgresql_partition_by``."""
    return f"RANGE ({TABLES[table]})"


def day(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def _literal(moment: datetime) -> str:
    return f"'{moment.astimezone(UTC).isoformat(sep=' ')}'"


def _parse(bound: str) -> datetime | None:
    return None if bound in ("MINVALUE", "MAXVALUE") else datetime.fromisoformat(bound.strip("'"))


def is_postgresql(connection) -> bool:
    return connection.dialect.name == "postgresql"


def partitions(connection, table: str) -> list[tuple[str, datetime | None, datetime | None]]:
    """(name, start, end) of each ranged partition of ``table``, oldest first; None is an open
    end. The default partition is left out."""
    rows = connection.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits AS i"
            " JOIN pg_class AS c ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:t AS regclass)"
        ),
        {"t": table},
    ).all()
    found = []
    for name, bound in rows:
        match = _BOUND.search(bound or "")
        if match:
            found.append((name, _parse(match.group(1)), _parse(match.group(2))))
    far = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda row: row[1] or far)


def partition_names(connection) -> set[str]:
    """Every partition of every partitioned table (left out when the models are compared with
    the database: a model is the parent table)."""
    if not is_postgresql(connection):
        return set()
    return set(connection.scalars(text("SELECT inhrelid::regclass::text FROM pg_inherits")))


def _local(connection) -> None:
    connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    connection.execute(text("SET LOCAL TimeZone = 'UTC'"))  # bounds read back in UTC


def ensure(connection, table: str, now: datetime, days: int = AHEAD_DAYS) -> list[str]:
    """Make the day partitions of ``table`` from today to ``days`` ahead that no partition
    covers yet; the names made. Call inside a transaction (each day commits with it)."""
    _local(connection)
    made = []
    held = partitions(connection, table)
    first = day(now)
    for offset in range(days):
        start = first + timedelta(days=offset)
        end = start + timedelta(days=1)
        if any((s is None or s < end) and (e is None or start < e) for _, s, e in held):
            continue
        made.append(_make(connection, table, start, end))
        held.append((made[-1], start, end))
    return made


def _columns(connection, table: str) -> str:
    names = connection.scalars(
        text(
            "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass)"
            " AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        ),
        {"t": table},
    )
    return ", ".join(f'"{name}"' for name in names)


def _make(connection, table: str, start: datetime, end: datetime) -> str:
    """A day's partition: a table of its own, the day's rows the default partition caught
    moved into it, then attached (the attach checks the default holds none left)."""
    name = f"{table}_p{start:%Y%m%d}"
    column = TABLES[table]
    columns = _columns(connection, table)
    connection.execute(
        text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    )
    connection.execute(
        text(
            f"WITH moved AS (DELETE FROM {table}_pdefault WHERE {column} >= :start"
            f" AND {column} < :end RETURNING {columns})"
            f" INSERT INTO {name} ({columns}) SELECT {columns} FROM moved"
        ),
        {"start": start, "end": end},
    )
    connection.execute(
        text(
            f"ALTER TABLE {table} ATTACH PARTITION {name}"
            f" FOR VALUES FROM ({_literal(start)}) TO ({_literal(end)})"
        )
    )
    return name


def drop(connection, table: str, name: str) -> None:
    """Detach and drop one partition, rows and all (inside the caller's transaction)."""
    _local(connection)
    connection.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name}"))
    connection.execute(text(f"DROP TABLE {name}"))


def expired(connection, table: str, cut: datetime) -> list[tuple]:
    """(name, start, end) of the partitions of ``table`` whose every row is older than
    ``cut``, oldest first."""
    held = partitions(connection, table)
    return [row for row in held if row[2] is not None and row[2] <= cut]


def include_name(connection):
    """Alembic's ``include_name`` for comparing the models with ``connection``'s database:
    partitions are left out (each model is the parent table). Read when first asked, inside
    the comparison's own transaction."""
    skipped: list[set[str]] = []

    def include(name, type_, parent_names) -> bool:
        if type_ != "table":
            return True
        if not skipped:
            skipped.append(partition_names(connection))
        return name not in skipped[0]

    return include


def step(work):
    """``work(connection)`` in a transaction of its own (committed), by one process at a time
    (another run doing it: skipped); None when skipped, or when it gave up waiting for a lock
    (the next run does it)."""
    from portal.core.kernel.transaction import commit_session
    from portal.extensions import db

    try:
        with commit_session():
            connection = db.session.connection()
            held = connection.scalar(
                text("SELECT pg_try_advisory_xact_lock(hashtext('portal.partitions'))")
            )
            return work(connection) if held else None
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) == "55P03":  # lock_not_available
            return None
        raise


def make_ahead(now: datetime) -> int:
    """The days ahead of every partitioned table (``ensure``), a transaction each; how many
    were made. Nothing on SQLite."""
    from portal.extensions import db

    if not is_postgresql(db.session.get_bind()):
        return 0
    made = 0
    for table in TABLES:
        made += len(step(lambda connection, table=table: ensure(connection, table, now)) or [])
    return made
