"""Reads without a transaction, for work that only reads (``transaction.reads_only``).

While reading is on (``begin`` to ``end``, one request of an operation declared reads-only):

- the session takes its connections in autocommit (``portal.replica.RoutingSession``), so its
  statements run without BEGIN and the closing ROLLBACK;
- ``rows`` runs a cached statement of a hot path (an API lookup) on a pooled DBAPI connection
  of its own, in autocommit, with the SQL compiled once: no ORM session, no SQLAlchemy
  execution context per request. Its answer is the same rows, with the columns' own result
  processing (aware UTC times). A statement that must be compiled again for each execution
  (an expanding IN list) goes through the session instead.

The connection goes back to the pool at ``end``, in its normal (transactional) mode: the next
user of the pool gets what it expects. A broken connection is thrown away, and the error is
SQLAlchemy's, as any statement's would be (``portal.errors`` answers 503 for one).
"""

from collections import namedtuple
from contextvars import ContextVar

from sqlalchemy import exc
from sqlalchemy.engine import Engine

_current: ContextVar["dict | None"] = ContextVar("portal_reading", default=None)
_compiled: dict = {}  # (statement, dialect name) -> (sql, row class, processors) or None


def begin() -> None:
    """Reading starts: nothing is taken yet (a request that finds its client in the cache and
    is refused takes no connection at all)."""
    _current.set({})


def active() -> bool:
    return _current.get() is not None


def end() -> None:
    """Reading ends: each connection taken goes back to the pool, transactional again."""
    held = _current.get()
    _current.set(None)
    for connection in (held or {}).values():
        try:
            connection.dbapi_connection.autocommit = False
        except Exception:  # noqa: BLE001 - a broken connection is not returned to the pool
            connection.invalidate()
        connection.close()


def _plan(statement, dialect):
    """The SQL of ``statement`` for ``dialect``, a row type and the columns' result processors;
    None when its SQL depends on each execution's values."""
    compiled = statement.compile(dialect=dialect)
    if (
        compiled.positional
        or compiled.post_compile_params
        or compiled.literal_execute_params
        or compiled._bind_processors
    ):
        return None
    columns = list(statement.selected_columns)
    row = namedtuple("Row", [column.key for column in columns])
    processors = [
        (index, processor)
        for index, column in enumerate(columns)
        if (processor := column.type._cached_result_processor(dialect, None)) is not None
    ]
    return compiled.string, row, processors


def rows(engine: Engine, statement, params: dict) -> list | None:
    """All rows of ``statement`` (a cached, unchanging statement object) on ``engine``, read
    outside any transaction; None when reading is off, or the statement cannot be run this
    way (the caller then runs it through the session)."""
    held = _current.get()
    if held is None or engine.dialect.name != "postgresql":
        return None
    key = (statement, engine.dialect.name)
    plan = _compiled.get(key, False)
    if plan is False:
        plan = _compiled[key] = _plan(statement, engine.dialect)
    if plan is None:
        return None
    sql, row, processors = plan
    connection = held.get(engine)
    if connection is None:
        connection = engine.raw_connection()
        connection.dbapi_connection.autocommit = True
        held[engine] = connection
    try:
        with connection.dbapi_connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchall()
    except engine.dialect.loaded_dbapi.Error as error:
        if engine.dialect.is_disconnect(error, connection, None):
            connection.invalidate(error)
        raise exc.DBAPIError.instance(
            sql, params, error, engine.dialect.loaded_dbapi.Error
        ) from error
    if processors:
        found = [list(values) for values in found]
        for values in found:
            for index, processor in processors:
                values[index] = processor(values[index])
    return [row._make(values) for values in found]
