"""Asking about many values in one query: audiences of 10,000 addresses, imports of 100,000.

``column IN (:v1, ..., :v2000)`` costs more to build and parse than to run, and SQLite caps the
number of parameters. Instead the values go as one JSON parameter that the database itself
unpacks into a table (``json_array_elements_text`` on PostgreSQL, ``json_each`` on SQLite).
Joined to a table, it also tells the PostgreSQL planner to probe the index once per value
rather than scan a million rows for a few thousand.
"""

import orjson
from sqlalchemy import JSON, cast, func, literal, select
from sqlalchemy.sql.expression import ColumnElement, Subquery

from portal.extensions import db


def values(items: list, type_) -> Subquery:
    """``items`` as a table of two columns: ``value``, of ``type_`` (a column's type), and
    ``position``, its index in ``items`` from 0, so that answers can be put back in order
    without sending the values back."""
    # Serialised here with orjson: the dialect's json.dumps took longer than the query.
    document = literal(orjson.dumps(list(items)).decode())
    if db.session.get_bind().dialect.name == "postgresql":
        unpacked = func.json_array_elements_text(cast(document, JSON)).table_valued(
            "value", with_ordinality="ordinality"
        )
        position = unpacked.c.ordinality - 1
    else:
        unpacked = func.json_each(document).table_valued("value", "key")
        position = unpacked.c.key
    return select(
        cast(unpacked.c.value, type_).label("value"), position.label("position")
    ).subquery()


def among(column, items: list) -> ColumnElement[bool]:
    """The condition ``column IN items``, with the items sent as one parameter."""
    return column.in_(select(values(items, column.type).c.value))
