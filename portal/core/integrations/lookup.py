"""Consent questions from integrating systems: one subject in full, or a whole audience at once.

"unknown" and "suppressed" are answers, not errors. A client limited to some brands sees the
group as if only those brands existed: a person known only at other brands is "unknown" to it.
"""

from dataclasses import dataclass
from functools import cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import Row, Select, and_, bindparam, exists, or_, select

from portal.core.consent.models import GRANTED, Consent
from portal.core.integrations.models.api import ApiClient
from portal.core.kernel import many, transaction
from portal.core.kernel.errors import InvalidInput, NotFound
from portal.core.kernel.models.group import Brand, ConsentText, Topic
from portal.core.people import subjects
from portal.core.people.models.erasure import Suppression
from portal.core.people.models.subject import Subject
from portal.extensions import db

UNKNOWN, SUPPRESSED, INVALID = "unknown", "suppressed", "invalid"
BULK_LIMIT = 10_000


def suppressed(group_id: int, email_hashes: list[str]) -> set[str]:
    """The hashes among ``email_hashes`` on the group's suppression list (erased people).

    Lookups by address and captures go through here; one query per call, whatever the number
    of hashes. (The audience check asks the suppression list within its own query.)
    """
    if not email_hashes:
        return set()
    return set(
        db.session.scalars(
            select(Suppression.email_hash).where(
                Suppression.group_id == group_id, many.among(Suppression.email_hash, email_hashes)
            )
        )
    )


@cache
def _held_query(key: str, restricted: bool) -> Select:
    """The subject whose ``key`` column equals :value in :group, and its consents (at :brands
    when ``restricted``), with whether the address is suppressed. Built once per shape:
    building a statement of this size costs more than running it."""
    on_suppression = (
        exists()
        .where(Suppression.group_id == Subject.group_id)
        .where(Suppression.email_hash == Subject.email_hash)
    )
    visible = Consent.subject_id == Subject.id
    if restricted:
        visible = and_(visible, Consent.brand_id.in_(bindparam("brands", expanding=True)))
    return (
        select(
            Subject.id,
            Subject.status,
            on_suppression.label("suppressed"),
            Consent.channel,
            Consent.state,
            Consent.since,
            Consent.source,
            Consent.policy_version,
            Topic.key,
            Brand.slug,
            ConsentText.version,
        )
        .outerjoin(Consent, visible)
        .outerjoin(Topic, Consent.topic_id == Topic.id)
        .outerjoin(Brand, Consent.brand_id == Brand.id)
        .outerjoin(ConsentText, Consent.text_version_id == ConsentText.id)
        .where(Subject.group_id == bindparam("group"), getattr(Subject, key) == bindparam("value"))
        .order_by(Brand.position, Brand.id, Topic.position, Topic.id, Consent.channel)
    )


def _held(client: ApiClient, key: str, value) -> tuple[Row | None, list[dict]]:
    """The subject whose ``key`` ("id" or "email_hash") is ``value`` in the client's group, and
    its consents visible to the client, in one query."""
    restricted = client.brand_ids is not None
    params = {"group": client.group_id, "value": value}
    if restricted:
        params["brands"] = list(client.brand_ids)
    # Not through the ORM: its execution path cost more than the query itself for one row;
    # while reading only, not through the session either (``transaction.read``). The
    # statement still chooses the connection (the session's get_bind sees it).
    rows = transaction.read(_held_query(key, restricted), params)
    consents = [
        {
            "brand": row.slug,
            "topic": row.key,
            "channel": row.channel,
            "state": row.state,
            "since": row.since.isoformat(),
            "source": row.source,
            "policy_version": row.policy_version or None,
            "text_version": row.version,
        }
        for row in rows
        if row.channel is not None
    ]
    return (rows[0] if rows else None), consents


def visible_consents(client: ApiClient, subject_id: int) -> list[dict]:
    """The subject's consents at the client's brands (all of them for an unrestricted client)."""
    return _held(client, "id", subject_id)[1]


def sees(client: ApiClient, subject_id: int) -> bool:
    """Whether ``client`` may know of this subject of its group: an unrestricted client sees
    everyone, a client limited to some brands only people with a consent at one of them."""
    return client.brand_ids is None or bool(visible_consents(client, subject_id))


def _answer(client: ApiClient, subject: Row | None, consents: list[dict]) -> dict:
    if subject is not None and subject.suppressed:
        return {"status": SUPPRESSED, "subject_id": None, "consents": []}
    if subject is None or (client.brand_ids is not None and not consents):
        return {"status": UNKNOWN, "subject_id": None, "consents": []}
    return {"status": subject.status, "subject_id": subject.id, "consents": consents}


def by_email(client: ApiClient, email: str) -> dict:
    """Everything ``client`` may know about the consents of the person at ``email``."""
    address = subjects.normalise_email(email)
    email_hash = subjects.address_hash(client.group_id, address)
    subject, consents = _held(client, "email_hash", email_hash)
    if subject is None and suppressed(client.group_id, [email_hash]):
        return {"status": SUPPRESSED, "subject_id": None, "consents": []}  # erased: no row left
    return _answer(client, subject, consents)


def by_id(client: ApiClient, subject_id: int) -> dict:
    """The same by subject id; NotFound outside the client's group (or brands)."""
    answer = _answer(client, *_held(client, "id", subject_id))
    if answer["status"] == UNKNOWN:
        raise NotFound("subject")
    return answer


@dataclass(frozen=True)
class Audience:
    brand: str
    topic: str
    channel: str
    emails: list[str]


def topic_of(client: ApiClient, brand_slug: str, topic_key: str, channel: str) -> Topic:
    from portal.core.integrations.clients import brands_of

    brand = next((b for b in brands_of(client) if b.slug == brand_slug), None)
    if brand is None:
        raise InvalidInput(
            "brand", _l("No brand “%(brand)s” is open to this client.", brand=brand_slug)
        )
    topic = next((t for t in brand.topics if t.key == topic_key), None)
    if topic is None:
        raise InvalidInput(
            "topic", _l("%(brand)s has no topic “%(topic)s”.", brand=brand.name, topic=topic_key)
        )
    if channel not in topic.channels:
        raise InvalidInput(
            "channel",
            _l(
                "The topic “%(topic)s” is not offered by %(channel)s.",
                topic=topic_key,
                channel=channel,
            ),
        )
    return topic


def check(client: ApiClient, audience: Audience) -> list[dict]:
    """For each address, may we contact it about the topic on the channel? In input order.

    Answered with one query whatever the audience's size: the addresses' hashes go in as a
    table, and for each one found come back its position, its consent and whether it is on the
    suppression list (which wins: an erased person is never contacted, even after joining again).
    """
    if len(audience.emails) > BULK_LIMIT:
        raise InvalidInput(
            "emails", _l("At most %(count)s addresses per request.", count=BULK_LIMIT)
        )
    topic = topic_of(client, audience.brand, audience.topic, audience.channel)
    hashes = subjects.address_hashes(
        client.group_id, [subjects.lookup_form(email) for email in audience.emails]
    )
    # Asked in the order of their hashes, so that the 10,000 probes of the subject index walk
    # it from left to right and find its pages still in the cache (a sixth less database time
    # at 1,000,000 people); ``order`` puts the answers back where the client asked them.
    order = sorted(range(len(hashes)), key=lambda index: hashes[index] or "")
    asked = many.values([hashes[index] for index in order], Subject.email_hash.type)
    on_list = (
        exists()
        .where(Suppression.group_id == client.group_id)
        .where(Suppression.email_hash == asked.c.value)
    )
    found = (
        select(asked.c.position, Consent.state, on_list)
        .select_from(asked)
        .outerjoin(
            Subject,
            and_(Subject.group_id == client.group_id, Subject.email_hash == asked.c.value),
        )
        .outerjoin(
            Consent,
            and_(
                Consent.subject_id == Subject.id,
                Consent.topic_id == topic.id,
                Consent.channel == audience.channel,
            ),
        )
        .where(or_(Subject.id.is_not(None), on_list))
    )
    states = [UNKNOWN if h is not None else INVALID for h in hashes]
    # Core rows, not ORM ones: building 10,000 ORM rows took as long as the query.
    # The bind chosen for the statement: a read replica when the view allows (portal.replica).
    connection = db.session.connection(bind_arguments={"clause": found})
    for position, state, blocked in connection.execute(found).all():
        states[order[position]] = SUPPRESSED if blocked else (state or UNKNOWN)
    return [
        {"email": email, "state": state, "contact": state == GRANTED}
        for email, state in zip(audience.emails, states, strict=True)
    ]
