"""Asking about many values in one query: audiences of 10,000 addresses, imports of 100,000.

``column IN (:v1, ..., :v2000)`` costs more to build and parse than to run, and SQLite caps the
number of parameters. Instead the values go as one JSON parameter that the database itself
unpacks into a one-column table (``json_array_elements_text`` on PostgreSQL, ``json_each`` on
SQLite). Joined to a table, it also tells the PostgreSQL planner to probe the index once per
value rather than scan a million rows for a few thousand.
"""

import json

from sqlalchemy import cast, func, literal, select
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.sql.expression import ColumnElement, Subquery

from portal.extensions import db


def values(items: list, type_) -> Subquery:
    """``items`` as a table with one column, ``value``, of ``type_`` (a column's type)."""
    if db.session.get_bind().dialect.name == "postgresql":
        unpacked = func.json_array_elements_text(literal(list(items), JSON)).table_valued("value")
    else:
        unpacked = func.json_each(literal(json.dumps(items))).table_valued("value")
    return select(cast(unpacked.c.value, type_).label("value")).subquery()


def among(column, items: list) -> ColumnElement[bool]:
    """The condition ``column IN items``, with the items sent as one parameter."""
    return column.in_(select(values(items, column.type).c.value))
