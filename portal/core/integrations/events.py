"""Writing events for the change feed and webhooks, in the transaction of the change itself.

An event's place in the feed is (``xid``, ``id``), taken without any lock shared by the group:

- PostgreSQL: ``xid`` is the writing transaction's id (``pg_current_xact_id()``). A reader
  returns only events below its snapshot's horizon (``pg_snapshot_xmin``: every transaction
  with a smaller id has ended, and every one still running or yet to start has a larger one),
  in (xid, id) order. So an event that commits late, even after events with larger ids, always
  lands after any position a reader has already handed out: every event exactly once, in
  order, whatever order transactions commit in. A long writing transaction holds the feed
  back until it ends (never loses an event).
- SQLite: one writer at a time, so ``id`` order is commit order; ``xid`` is 0.

One person's events keep the order of their changes: those are made one at a time under the
person's row lock (``locks.subjects``, taken here too), and an event's ``xid`` is raised to at
least that of the person's previous event, for a transaction that got its id before the one
that changed the person just before it. Every endpoint that wants the event gets a queued
delivery in the same transaction, so a webhook is never lost either.
"""

import json

from sqlalchemy import func, literal_column, select

from portal.core.consent.models import Consent
from portal.core.integrations.models.api import ApiClient, WebhookDelivery, WebhookEndpoint
from portal.core.integrations.models.event import CONSENT_CHANGED, PROFILE_UPDATED, Event
from portal.core.kernel import clock, many
from portal.core.people import locks
from portal.extensions import db


def emit(
    group_id: int,
    type_: str,
    payload: dict,
    *,
    brand_id: int | None = None,
    subject_id: int | None = None,
    personal: dict | None = None,
    audience: set[int] | None = None,
    client_id: int | None = None,
    endpoint_id: int | None = None,
) -> Event:
    """Append one event to the group's feed and queue its webhook deliveries.

    ``audience``: for a group-wide event about a person, the brands the person was with; clients
    limited to other brands do not hear of it (a profile change finds them itself).
    ``client_id``: an event for that client alone (an erasure request), delivered to each of
    its endpoints whatever types they chose, because the request is owed to it.
    Clients without accepted processing terms get no webhook deliveries (they receive no
    personal data, see ``recipients``). ``endpoint_id``: delivered to that endpoint of
    ``client_id`` alone (a test ping).
    """
    locks.subjects([subject_id])  # one person's events in the order of their changes
    now = clock.now()
    event = Event(
        group_id=group_id,
        xid=position_xid([subject_id]),
        type=type_,
        brand_id=brand_id,
        subject_id=subject_id,
        client_id=client_id,
        payload=payload,
        personal=json.dumps(personal, ensure_ascii=False) if personal else None,
        created_at=now,
    )
    db.session.add(event)
    db.session.flush()
    if audience is None and type_ == PROFILE_UPDATED:
        audience = brands_of(subject_id)
    targets = _endpoints(group_id, client_id, endpoint_id)
    for endpoint_id, types, brand_ids in targets:  # noqa: B020 - the argument is read above
        if type_ not in types and client_id is None:
            continue
        if audience is not None and brand_ids is not None and not audience & set(brand_ids):
            continue  # news of a person goes only to clients of a brand the person is with
        if brand_ids is None or brand_id is None or brand_id in brand_ids:
            db.session.add(
                WebhookDelivery(
                    endpoint_id=endpoint_id,
                    event_id=event.id,
                    subject_id=subject_id,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    return event


OWN_XID = literal_column("pg_current_xact_id()::text::bigint")


def position_xid(subject_ids: list[int | None]) -> int:
    """The ``xid`` of this transaction's events about ``subject_ids`` (whose locks are held):
    its own transaction id, or the largest of those people's earlier events if larger, so
    that a person's events never go back in order. 0 on SQLite."""
    if db.session.get_bind().dialect.name != "postgresql":
        return 0
    people = [i for i in subject_ids if i is not None]
    if not people:
        return db.session.scalar(select(OWN_XID))
    earlier = (
        select(func.max(Event.xid))
        .where(
            Event.subject_id == people[0]
            if len(people) == 1
            else many.among(Event.subject_id, people)
        )
        .scalar_subquery()
    )
    return db.session.scalar(select(func.greatest(OWN_XID, func.coalesce(earlier, 0))))


def _endpoints(group_id: int, client_id: int | None = None, endpoint_id: int | None = None) -> list:
    """(id, event types, client's brands) of the live endpoints that may receive the group's
    events (of ``client_id`` alone, or the one endpoint ``endpoint_id``, when given)."""
    return db.session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.event_types, ApiClient.brand_ids)
        .join(ApiClient, WebhookEndpoint.client_id == ApiClient.id)
        .where(
            ApiClient.group_id == group_id,
            ApiClient.revoked_at.is_(None),
            ApiClient.terms_version.is_not(None),
            WebhookEndpoint.disabled_at.is_(None),
            *([ApiClient.id == client_id] if client_id is not None else []),
            *([WebhookEndpoint.id == endpoint_id] if endpoint_id is not None else []),
        )
    ).all()


def consents_changed(group_id: int, changes: list[tuple[int, int, dict]]) -> None:
    """``consent_changed`` for many consents of one group at once: each (brand id, subject id,
    payload of ``consent_payload``), in order, written with one statement, and queued to the
    endpoints that want them as ``emit`` does."""
    if not changes:
        return
    people = [subject_id for _, subject_id, _ in changes]
    locks.subjects(people)
    xid = position_xid(people)
    now = clock.now()
    rows = [
        {
            "group_id": group_id,
            "xid": xid,
            "type": CONSENT_CHANGED,
            "brand_id": brand_id,
            "subject_id": subject_id,
            "client_id": None,
            "payload": payload,
            "personal": None,
            "created_at": now,
        }
        for brand_id, subject_id, payload in changes
    ]
    endpoints = [
        (endpoint_id, brand_ids)
        for endpoint_id, types, brand_ids in _endpoints(group_id)
        if CONSENT_CHANGED in types
    ]
    if not endpoints:
        db.session.execute(Event.__table__.insert(), rows)
        return
    ids = db.session.scalars(
        Event.__table__.insert().returning(Event.id, sort_by_parameter_order=True), rows
    ).all()
    deliveries = [
        {
            "endpoint_id": endpoint_id,
            "event_id": event_id,
            "subject_id": row["subject_id"],  # deliveries about one person keep their order
            "next_attempt_at": now,
            "created_at": now,
        }
        for event_id, row in zip(ids, rows, strict=True)
        for endpoint_id, brand_ids in endpoints
        if brand_ids is None or row["brand_id"] in brand_ids
    ]
    if deliveries:
        db.session.execute(WebhookDelivery.__table__.insert(), deliveries)


def brands_of(subject_id: int | None) -> set[int]:
    if subject_id is None:
        return set()
    return set(
        db.session.scalars(
            select(Consent.brand_id).where(Consent.subject_id == subject_id).distinct()
        )
    )


def profile_updated(subject, changed: dict[str, str | None]) -> Event | None:
    """One event for a profile change made anywhere: the changed fields with their new values
    (None for a field cleared). Clients limited to some brands get it only for people who
    hold a consent at one of those brands."""
    if not changed:
        return None
    return emit(
        subject.group_id,
        PROFILE_UPDATED,
        {"subject_id": subject.id},
        subject_id=subject.id,
        personal={"changed": changed},  # encrypted at rest, dropped at erasure
    )


def consent_payload(row, topic, origin_source: str) -> dict:
    """What a ``consent.changed`` event says of a consent (``row``) as it stands now."""
    return {
        "subject_id": row.subject_id,
        "brand": topic.brand.slug,
        "topic": topic.key,
        "channel": row.channel,
        "state": row.state,
        "since": row.since.isoformat(),
        "source": origin_source,
        "policy_version": row.policy_version or None,
    }


def consent_changed(row, topic, origin_source: str) -> Event:
    """The event for a consent that became granted or withdrawn (``row`` is its Consent)."""
    return emit(
        topic.brand.group_id,
        CONSENT_CHANGED,
        consent_payload(row, topic, origin_source),
        brand_id=topic.brand_id,
        subject_id=row.subject_id,
    )


def data_of(payload: dict, personal: str | None) -> dict:
    """An event's data as clients see it: identifiers, and the personal part while it lasts."""
    return {**payload, **json.loads(personal)} if personal else payload


def describe(event: Event, client_id: int | None = None) -> dict:
    """An event as the feed and webhooks show it; for ``client_id``, with that client's own id
    of the subject (``external_ids``) when it gave one."""
    from portal.core.integrations import cursors, external_ids

    data = data_of(event.payload, event.personal)
    external = external_ids.of(client_id, event.subject_id) if client_id is not None else None
    return {
        "id": cursors.of(event.xid, event.id, event.seq),
        "type": event.type,
        "created_at": event.created_at.isoformat(),
        "data": {**data, "external_id": external} if external is not None else data,
    }
