"""The change feed: a client's events after a cursor, in a stable order, a page at a time.

Delivery is at least once: a client that stores the cursor of the last event it handled and
asks again from there never misses one (see ``events`` on why late commits cannot hide: a page
holds only events below the reader's snapshot horizon, in (xid, id) order). Events older than
``EVENT_RETENTION_DAYS`` are deleted (``retention``); a cursor from before the last one
deleted may have missed some, so it is refused (``CursorExpired``) rather than answered with
a gap.

A page is JSON text, not dictionaries for the view to encode. On PostgreSQL the database
writes each event's text (``feed_text``) and the app joins them, finishing only the events
with a personal part or an external id to merge in; on SQLite the app encodes the events, a
payload (JSON already) placed as it is (an ``orjson.Fragment``). Either way the page reads the
same, as ``events.describe`` has each event.
"""

import json
from datetime import datetime
from typing import NamedTuple

import orjson
from sqlalchemy import (
    BigInteger,
    LargeBinary,
    Text,
    and_,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
    type_coerce,
)

from portal.core.consent.models import Consent, LedgerEntry
from portal.core.integrations import cursors, events, feed_text, horizon
from portal.core.integrations.cursors import START, Legacy, Position
from portal.core.integrations.models.api import ApiClient, ExternalId
from portal.core.integrations.models.event import (
    PROFILE_UPDATED,
    SUBJECT_ERASED,
    WEBHOOK_PING,
    Event,
    FeedStart,
)
from portal.core.kernel.crypto import KeyMissing, keys
from portal.extensions import db

MAX_PAGE = 10_000


class CursorExpired(LookupError):
    """The cursor points before events that retention has deleted since: the client must
    start again from a time (``since``) and reconcile."""


def _final() -> list:
    """Only events whose place can no longer change: on PostgreSQL, below the horizon."""
    if db.session.get_bind().dialect.name == "postgresql":
        return [Event.xid < horizon.below(horizon.running())]
    return []


def _columns(on_postgresql: bool) -> list:
    """What a page reads of each event: on PostgreSQL, its JSON text as the database writes it
    (``feed_text``) and what the app needs to finish the few it must; elsewhere, its parts."""
    # Read as stored: a page opens each person's id once (``_Externals``).
    sealed = type_coerce(ExternalId.sealed, LargeBinary).label("sealed")
    plain = ExternalId.plain_value
    if not on_postgresql:
        payload = cast(Event.payload, Text).label("payload")
        parts = [Event.type, Event.created_at, payload, Event.personal, sealed, plain]
        return [Event.xid, Event.id, Event.seq, *parts]
    merged = feed_text.needs_app(Event.personal, ExternalId.sealed, plain)
    text = feed_text.event(
        Event.xid, Event.id, Event.seq, Event.type, Event.created_at, Event.payload, merged
    )
    payload = feed_text.payload_if(Event.payload, merged).label("payload")
    return [
        Event.xid,
        Event.id,
        Event.seq,
        text.label("text"),
        payload,
        Event.personal,
        sealed,
        plain,
    ]


def _after(start: Position, on_postgresql: bool):
    """The events after ``start``, as an index range.

    On PostgreSQL the position goes in as two one-value subqueries, which the planner cannot
    see into: given the numbers, it estimates the rows after them from the statistics of
    ``xid`` alone, and when one transaction wrote a large batch (an import, or the bench's
    200,000 events) it estimates one row. It then chose to read the whole rest of the feed and
    sort it, on every page (1.6 s a page at 200,000 events, quadratic in the feed's length).
    Not seeing the values, it keeps its usual estimate and reads the index in order, stopping
    after one page; the index still starts the scan at the position."""
    if not on_postgresql:
        return tuple_(Event.xid, Event.id) > tuple_(start.xid, start.id)
    xid = select(literal(start.xid, BigInteger)).scalar_subquery()
    id_ = select(literal(start.id, BigInteger)).scalar_subquery()
    return tuple_(Event.xid, Event.id) > tuple_(xid, id_)


def _query(client: ApiClient, start: Position, limit: int, on_postgresql: bool):
    query = (
        select(*_columns(on_postgresql))
        # The client's own id of the subject, when it gave one (``external_ids``).
        .outerjoin(
            ExternalId,
            and_(ExternalId.client_id == client.id, ExternalId.subject_id == Event.subject_id),
        )
        .where(
            Event.group_id == client.group_id,
            _after(start, on_postgresql),
            *_final(),
            # Events meant for one client (its erasure requests) reach no other.
            or_(Event.client_id.is_(None), Event.client_id == client.id),
            Event.type != WEBHOOK_PING,  # a test of one endpoint, not news
        )
        .order_by(Event.xid, Event.id)
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


def _floor(group_id: int) -> Position | None:
    found = db.session.execute(
        select(FeedStart.xid, FeedStart.event_id).where(FeedStart.group_id == group_id)
    ).first()
    return Position(*found) if found else None


def _start(client: ApiClient, after: str | None) -> Position:
    """Where a page starts: the cursor's position, checked against what retention deleted."""
    start = cursors.decode(after)
    floor = _floor(client.group_id)
    if isinstance(start, Legacy):
        start = _legacy(client, start.seq, floor)
    if start == START:
        return floor or START  # a new reader starts with the oldest event kept
    if floor is not None and start < floor:
        raise CursorExpired
    return start


def _legacy(client: ApiClient, seq: int, floor: Position | None) -> Position:
    """A cursor from before commit-ordered positions: the place of the last event numbered
    ``seq`` or lower (numbers were given in commit order, so every event after that place
    came after the cursor). Any number is a place, as it was then."""
    found = db.session.scalar(
        select(func.max(Event.id)).where(
            Event.group_id == client.group_id, Event.seq.is_not(None), Event.seq <= seq
        )
    )
    if found is not None:
        return Position(0, found)  # events of that time have xid 0, in id order
    if seq > 0 and floor is not None:
        raise CursorExpired  # its events were deleted by retention since
    return START


def cursor_at(client: ApiClient, since: datetime) -> str:
    """A cursor from which the feed goes on with every event created at or after ``since``:
    the position just before the first of them, and never past the horizon (an event still
    being written may be older in feed order than the first one found).

    Positions follow commit order and times follow the clocks of the servers that wrote them,
    so an event a little older than ``since`` may come after that position: delivery stays at
    least once, never a gap. A ``since`` in the future gives the end of the feed as it is now;
    one before what is kept, the oldest event kept. (Index ``ix_event_group_created``: the
    events after ``since``, not the whole feed, are read.)
    """
    group = Event.group_id == client.group_id
    first = db.session.execute(
        select(Event.xid, Event.id)
        .where(group, Event.created_at >= since)
        .order_by(Event.xid, Event.id)
        .limit(1)
    ).first()
    if db.session.get_bind().dialect.name == "postgresql":
        end = Position(horizon.now(), 0)  # after all that is final
    else:
        end = Position(0, db.session.scalar(select(func.max(Event.id)).where(group)) or 0)
    position = min(Position(first.xid, first.id - 1), end) if first else end
    floor = _floor(client.group_id)
    if floor is not None:
        position = max(position, floor)
    return cursors.encode(*position)


def page(client: ApiClient, after: str | None, limit: int = 100) -> Page:
    """Up to ``limit`` events after the cursor ``after``, the cursor to continue from, and
    whether more events wait already. ``CursorExpired`` for a cursor before the events
    retention deleted."""
    start = _start(client, after)
    limit = max(1, min(limit, MAX_PAGE))
    on_postgresql = db.session.get_bind().dialect.name == "postgresql"
    # Core rows, not ORM ones: the ORM's row building took half the time of a page.
    query = _query(client, start, limit + 1, on_postgresql)
    # The connection the statement's bind is chosen for: a read replica's, when the view
    # allows lagging reads (``portal.replica``).
    rows = db.session.connection(bind_arguments={"clause": query}).execute(query).all()
    more = len(rows) > limit
    if more:
        del rows[limit:]
    if rows:
        last = rows[-1]
        next_cursor = cursors.of(last.xid, last.id, last.seq)
    else:
        next_cursor = after or cursors.encode(*start)
    events = _events_written_by_database(rows) if on_postgresql else _events_built_here(rows)
    del rows  # the page's rows, before the page's text is made: one of them at a time
    body = b'{"events":[%b],"next_cursor":%b,"has_more":%b}' % (
        events,
        orjson.dumps(next_cursor),  # a client's own cursor, echoed: encoded, never pasted
        b"true" if more else b"false",
    )
    return Page(body, next_cursor, more)


def _events_written_by_database(rows) -> bytes:
    """The events' JSON texts, joined: the app writes only the data it must merge in."""
    external = _Externals()
    texts = [
        text
        if payload is None
        else text + orjson.dumps(_data(payload, personal, external(sealed, plain))).decode() + "}"
        for _, _, _, text, payload, personal, sealed, plain in rows
    ]
    return ",".join(texts).encode()


def _events_built_here(rows) -> bytes:
    """The events encoded by the app (SQLite), joined."""
    encode = cursors.of
    external = _Externals()
    listed = orjson.dumps(
        [
            {
                "id": encode(xid, id_, seq),
                "type": type_,
                "created_at": created_at,  # orjson writes it as isoformat() would
                "data": _data(payload, personal, external(sealed, plain)),
            }
            for xid, id_, seq, type_, created_at, payload, personal, sealed, plain in rows
        ]
    )
    return listed[1:-1]  # without the brackets, which the page writes
