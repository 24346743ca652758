"""The change feed: a client's events after a cursor, in a stable order, a page at a time.

Delivery is at least once: a client that stores the cursor of the last event it handled and
asks again from there never misses one (see ``events.emit`` on why late commits cannot hide).
"""

from sqlalchemy import and_, exists, or_, select

from portal.core import cursors, events
from portal.core.models import ApiClient, Consent, Event
from portal.core.models.event import PROFILE_UPDATED
from portal.extensions import db

MAX_PAGE = 1000


def page(client: ApiClient, after: str | None, limit: int = 100) -> dict:
    """Up to ``limit`` events after the cursor ``after``, and the cursor to continue from."""
    start = cursors.decode(after)
    limit = max(1, min(limit, MAX_PAGE))
    # Columns, not entities: the feed streams tens of thousands of rows a second.
    query = (
        select(Event.seq, Event.type, Event.created_at, Event.payload, Event.personal)
        .where(Event.group_id == client.group_id, Event.seq > start)
        .order_by(Event.seq)
        .limit(limit + 1)
    )
    if client.brand_ids is not None:
        # Group-wide events, except a profile change of someone not with the client's brands.
        with_brands = exists().where(
            Consent.subject_id == Event.subject_id, Consent.brand_id.in_(client.brand_ids)
        )
        query = query.where(
            or_(
                Event.brand_id.in_(client.brand_ids),
                and_(Event.brand_id.is_(None), or_(Event.type != PROFILE_UPDATED, with_brands)),
            )
        )
    rows = db.session.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1].seq if rows else start
    return {
        "events": [
            {
                "id": cursors.encode(row.seq),
                "type": row.type,
                "created_at": row.created_at.isoformat(),
                "data": events.data_of(row.payload, row.personal),
            }
            for row in rows
        ],
        "next_cursor": cursors.encode(last),
        "has_more": more,
    }
