"""The feed's horizon on PostgreSQL: below it, no event can appear any more.

An event's place is (its transaction's id, its id) (``events``). A reader may hand out an
event only once every transaction of this database with a smaller id has ended: one still
running could commit an event before it later. ``pg_snapshot_xmin`` would say where that is,
but transaction ids are shared by every database of the server, so a long transaction of
another database (a report, another application, another test run) would hold the feed back
although it can never write here. So the horizon is taken in two steps:

1. ``running()``: this moment's snapshot, less the transactions known to belong to other
   databases (``pg_stat_activity.backend_xid`` of sessions connected elsewhere; an id is
   bound to its database for good, so that knowledge cannot go stale; the sessions are read
   afresh each time). What is left may be ours: ``candidates``. Transactions that start
   later get ids from ``xmax`` on.
2. ``below(running)``, in the reading statement itself: the smallest candidate still running
   in that statement's snapshot, ``xmax``, and the reader's own transaction id when it has
   one (its own events are not committed yet), whichever is least.

Why it is safe: a transaction of this database with an id below the horizon was either ended
before step 1, or running then (so a candidate) and no longer running at step 2, so the
reading statement sees all it committed. A candidate of another database whose session had
ended or is hidden from this role holds the feed back only while it runs.
"""

from typing import NamedTuple

from sqlalchemy import BigInteger, Text, any_, bindparam, cast, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.expression import ColumnElement

from portal.extensions import db

_RUNNING = text(
    "SELECT pg_snapshot_xmax(s)::text::bigint,"
    " ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x"
    "  WHERE x::text::bigint % 4294967296 NOT IN ("
    "   SELECT backend_xid::text::bigint FROM pg_stat_activity"
    "   WHERE datname <> current_database() AND backend_xid IS NOT NULL))"
    " FROM pg_current_snapshot() AS s"
)


class Running(NamedTuple):
    xmax: int  # the first id not yet given to any transaction
    candidates: list[int]  # running transactions that may be of this database


def running() -> Running:
    # Read afresh: PostgreSQL keeps what pg_stat_activity said for the rest of a transaction,
    # and a transaction of another database that started since would count as ours.
    db.session.execute(text("SELECT pg_stat_clear_snapshot()"))
    xmax, candidates = db.session.execute(_RUNNING).one()
    return Running(xmax, candidates)


def _big(value) -> ColumnElement:
    return cast(cast(value, Text), BigInteger)


def below(seen: Running) -> ColumnElement:
    """The horizon as an expression of the statement that reads the events (step 2)."""
    xip = func.pg_snapshot_xip(func.pg_current_snapshot()).column_valued("x")
    still = (
        select(func.min(_big(xip)))
        .where(_big(xip) == any_(bindparam("candidates", seen.candidates, ARRAY(BigInteger))))
        .scalar_subquery()
    )
    return func.least(
        bindparam("xmax", seen.xmax, BigInteger),
        _big(func.pg_current_xact_id_if_assigned()),
        still,
    )


def now() -> int:
    """The horizon as a number, for a cursor placed at the end of what is final now."""
    return db.session.scalar(select(below(running())))
