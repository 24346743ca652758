"""The change feed: a client's events after a cursor, in a stable order, a page at a time.

Delivery is at least once: a client that stores the cursor of the last event it handled and
asks again from there never misses one (see ``events.emit`` on why late commits cannot hide).

A page is built as JSON text here, not as dictionaries for the view to encode: a payload is
JSON already in the database, so it is read as text and placed in the page as it is (an
``orjson.Fragment``); only events with a personal part are decoded, to merge it in. That keeps
a client catching up at tens of thousands of events a second.
"""

import json
from datetime import datetime
from typing import NamedTuple

import orjson
from sqlalchemy import LargeBinary, Text, and_, cast, exists, func, or_, select, type_coerce

from portal.core.consent.models import Consent, LedgerEntry
from portal.core.integrations import cursors, events
from portal.core.integrations.models.api import ApiClient, ExternalId
from portal.core.integrations.models.event import (
    PROFILE_UPDATED,
    SUBJECT_ERASED,
    WEBHOOK_PING,
    Event,
)
from portal.core.kernel.crypto import KeyMissing, keys
from portal.extensions import db

MAX_PAGE = 10_000


def _query(client: ApiClient, start: int, limit: int):
    query = (
        select(
            Event.seq,
            Event.type,
            Event.created_at,
            cast(Event.payload, Text).label("payload"),
            Event.personal,
            # Read as stored: a page opens each person's id once (``_Externals``).
            type_coerce(ExternalId.sealed, LargeBinary).label("sealed"),
            ExternalId.plain_value,
        )
        # The client's own id of the subject, when it gave one (``external_ids``).
        .outerjoin(
            ExternalId,
            and_(ExternalId.client_id == client.id, ExternalId.subject_id == Event.subject_id),
        )
        .where(
            Event.group_id == client.group_id,
            Event.seq > start,
            # Events meant for one client (its erasure requests) reach no other.
            or_(Event.client_id.is_(None), Event.client_id == client.id),
            Event.type != WEBHOOK_PING,  # a test of one endpoint, not news
        )
        .order_by(Event.seq)
        .limit(limit)
    )
    if client.brand_ids is not None:
        # Group-wide events only about people with the client's brands: the profile changes of
        # someone with a consent there, the erasures of someone whose (anonymised) ledger
        # has a row there. Nothing tells the client of a person it cannot see.
        with_brands = exists().where(
            Consent.subject_id == Event.subject_id, Consent.brand_id.in_(client.brand_ids)
        )
        was_with_brands = exists().where(
            LedgerEntry.erasure_id == Event.payload["erasure_id"].as_string(),
            LedgerEntry.brand_id.in_(client.brand_ids),
        )
        query = query.where(
            or_(
                Event.client_id == client.id,
                Event.brand_id.in_(client.brand_ids),
                and_(
                    Event.brand_id.is_(None),
                    or_(
                        and_(Event.type == PROFILE_UPDATED, with_brands),
                        and_(Event.type == SUBJECT_ERASED, was_with_brands),
                    ),
                ),
            )
        )
    return query


def _data(payload: str, personal: str | None, external: str | None):
    if external is not None:
        return {**events.data_of(json.loads(payload), personal), "external_id": external}
    if personal:
        return events.data_of(json.loads(payload), personal)
    return orjson.Fragment(payload)


class _Externals:
    """The client's external ids of a page, each opened once: they are under each person's
    own key, and a page often holds several events about one person."""

    def __init__(self):
        self.opened: dict[bytes, str | None] = {}

    def __call__(self, sealed, plain: str | None) -> str | None:
        if sealed is None:
            return plain  # written before, in clear, until `flask keys per-person`
        sealed = bytes(sealed)
        if sealed not in self.opened:
            try:
                self.opened[sealed] = keys().decrypt(sealed)
            except KeyMissing:  # an erased person's row outlived their key: gone
                self.opened[sealed] = None
        return self.opened[sealed]


class Page(NamedTuple):
    body: bytes  # the JSON document the API answers
    next_cursor: str
    has_more: bool


def cursor_at(client: ApiClient, since: datetime) -> str:
    """A cursor from which the feed goes on with every event created at or after ``since``:
    the position just before the first of them.

    Event numbers follow commit order and times follow the clocks of the servers that wrote
    them, so an event a little older than ``since`` may come after that position: delivery
    stays at least once, never a gap. A ``since`` in the future gives the end of the feed as
    it is now. (Index ``ix_event_group_created``: the events after ``since``, not the whole
    feed, are read.)
    """
    first = db.session.scalar(
        select(func.min(Event.seq)).where(
            Event.group_id == client.group_id, Event.created_at >= since
        )
    )
    if first is not None:
        return cursors.encode(first - 1)
    last = db.session.scalar(select(func.max(Event.seq)).where(Event.group_id == client.group_id))
    return cursors.encode(last or 0)


def page(client: ApiClient, after: str | None, limit: int = 100) -> Page:
    """Up to ``limit`` events after the cursor ``after``, the cursor to continue from, and
    whether more events wait already."""
    start = cursors.decode(after)
    limit = max(1, min(limit, MAX_PAGE))
    # Core rows, not ORM ones: the ORM's row building took half the time of a page.
    rows = db.session.connection().execute(_query(client, start, limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1].seq if rows else start
    next_cursor = cursors.encode(last)
    external = _Externals()
    body = orjson.dumps(
        {
            "events": [
                {
                    "id": cursors.encode(seq),
                    "type": type_,
                    "created_at": created_at,  # orjson writes it as isoformat() would
                    "data": _data(payload, personal, external(sealed, plain)),
                }
                for seq, type_, created_at, payload, personal, sealed, plain in rows
            ],
            "next_cursor": next_cursor,
            "has_more": more,
        }
    )
    return Page(body, next_cursor, more)
