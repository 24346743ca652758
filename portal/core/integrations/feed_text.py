"""A feed page's events as JSON text written by PostgreSQL, for the app only to frame.

Each event comes back as one text value, exactly as ``events.describe`` would have it encoded
(the id as ``cursors.of`` writes it, ``created_at`` as ``datetime.isoformat``, the stored
payload as it is). Python touches an event only when its data needs the app: a personal part
(under the person's key) or the client's external id (sealed) to merge in. For those, the text
stops after ``"data":`` and the app writes the data and the closing brace.

Why: building 10,000 dictionaries a page and encoding them, with a datetime and a cursor each,
was most of the app's time for a page; PostgreSQL writes the same text in C, inside the scan
it does anyway. SQLite keeps the app-built page (``feed._events_built_here``).
"""

from sqlalchemy import Text, case, cast, func, literal, or_
from sqlalchemy.sql.expression import ColumnElement


def _digits(value: ColumnElement) -> ColumnElement:
    return func.lpad(cast(value, Text), 19, "0", type_=Text)


def cursor(xid, id_, seq) -> ColumnElement:
    """``cursors.of`` in SQL: base64url of ``e1:<seq>`` or ``e2:<xid 19 digits>.<id 19
    digits>``, without padding. (PostgreSQL's base64 breaks lines after 76 characters; a
    position is 56, so there is never a break to remove.)"""
    plain = case(
        (seq.is_(None), literal("e2:") + _digits(xid) + "." + _digits(id_)),
        else_=literal("e1:") + cast(seq, Text),
    )
    encoded = func.encode(func.convert_to(plain, "UTF8"), "base64", type_=Text)
    # Two replace() calls: translate() reads characters one by one and cost twice as much.
    urlsafe = func.replace(func.replace(encoded, "+", "-", type_=Text), "/", "_", type_=Text)
    return func.rtrim(urlsafe, "=", type_=Text)


def isoformat(moment) -> ColumnElement:
    """``datetime.isoformat()`` of an aware UTC moment: microseconds only when not zero."""
    utc = func.timezone("UTC", moment)
    written = func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS.US', type_=Text)
    return func.replace(written, ".000000", "", type_=Text) + "+00:00"


def needs_app(personal, sealed, plain) -> ColumnElement[bool]:
    """Whether the event's data needs the app: a personal part or an external id to merge."""
    return or_(personal.is_not(None), sealed.is_not(None), plain.is_not(None))


def event(xid, id_, seq, type_, created_at, payload, merged: ColumnElement[bool]) -> ColumnElement:
    """The event's JSON text; when ``merged``, cut after ``"data":`` for the app to finish."""
    head = (
        literal('{"id":"')
        + cursor(xid, id_, seq)
        + '","type":'
        + cast(func.to_json(type_), Text)
        + ',"created_at":"'
        + isoformat(created_at)
        + '","data":'
    )
    return head + case((merged, ""), else_=cast(payload, Text) + "}")


def payload_if(payload, merged: ColumnElement[bool]) -> ColumnElement:
    """The stored payload as text, only for the events the app finishes."""
    return case((merged, cast(payload, Text)), else_=None)
