"""Asking about many values in one query: audiences of 10,000 addresses, imports of 100,000.

``column IN (:v1, ..., :v2000)`` costs more to build and parse than to run. On PostgreSQL the
values go as one text parameter split into an array by the server: the statement stays short
and is prepared once, and no driver inspects 10,000 values one by one. It takes values that
have no comma in them: keyed hashes (hex) and ids. SQLite has no arrays, so there the values go
in chunks of plain IN.
"""

from collections.abc import Iterator

from sqlalchemy import any_, cast, func, literal
from sqlalchemy.dialects.postgresql import ARRAY

from portal.extensions import db

SQLITE_CHUNK = 2_000  # well under SQLite's limit of bound parameters per statement


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def chunks(values: list) -> Iterator[list]:
    """``values`` in as few pieces as one query can take: a single one on PostgreSQL."""
    size = max(len(values), 1) if _postgres() else SQLITE_CHUNK
    for start in range(0, len(values), size):
        yield values[start : start + size]


def among(column, values: list):
    """The condition ``column IN values``, as one parameter on PostgreSQL."""
    if not _postgres():
        return column.in_(values)
    joined = ",".join(map(str, values))
    if joined.count(",") != max(len(values) - 1, 0):
        raise ValueError("among() takes values without commas (hashes, ids)")
    array = func.string_to_array(literal(joined), literal(","))
    return column == any_(cast(array, ARRAY(column.type)))
