"""Consent questions from integrating systems: one subject in full, or a whole audience at once.

"unknown" and "suppressed" are answers, not errors. A client limited to some brands sees the
group as if only those brands existed: a person known only at other brands is "unknown" to it.
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, select

from portal.core import subjects
from portal.core.errors import InvalidInput, NotFound
from portal.core.models import ApiClient, Brand, Consent, ConsentText, Subject, Suppression, Topic
from portal.core.models.consent import GRANTED
from portal.extensions import db

UNKNOWN, SUPPRESSED, INVALID = "unknown", "suppressed", "invalid"
BULK_LIMIT = 10_000
_CHUNK = 2_000  # addresses per query: 5 queries for the largest audience


def suppressed(group_id: int, email_hashes: list[str]) -> set[str]:
    """The hashes among ``email_hashes`` on the group's suppression list (erased people).

    Both lookups below go through here; one query per call, whatever the number of hashes.
    """
    if not email_hashes:
        return set()
    return set(
        db.session.scalars(
            select(Suppression.email_hash).where(
                Suppression.group_id == group_id, Suppression.email_hash.in_(email_hashes)
            )
        )
    )


def _consents(client: ApiClient, subject_id: int) -> list[dict]:
    query = (
        select(Consent, Topic.key, Brand.slug, ConsentText.version)
        .join(Topic, Consent.topic_id == Topic.id)
        .join(Brand, Consent.brand_id == Brand.id)
        .outerjoin(ConsentText, Consent.text_version_id == ConsentText.id)
        .where(Consent.subject_id == subject_id)
        .order_by(Brand.position, Brand.id, Topic.position, Topic.id, Consent.channel)
    )
    if client.brand_ids is not None:
        query = query.where(Consent.brand_id.in_(client.brand_ids))
    return [
        {
            "brand": brand,
            "topic": topic,
            "channel": row.channel,
            "state": row.state,
            "since": row.since.isoformat(),
            "source": row.source,
            "policy_version": row.policy_version or None,
            "text_version": version,
        }
        for row, topic, brand, version in db.session.execute(query)
    ]


def visible_consents(client: ApiClient, subject_id: int) -> list[dict]:
    """The subject's consents at the client's brands (all of them for an unrestricted client)."""
    return _consents(client, subject_id)


def _answer(client: ApiClient, subject: Subject | None, email_hash: str) -> dict:
    if email_hash in suppressed(client.group_id, [email_hash]):
        return {"status": SUPPRESSED, "subject_id": None, "consents": []}
    consents = _consents(client, subject.id) if subject is not None else []
    if subject is None or (client.brand_ids is not None and not consents):
        return {"status": UNKNOWN, "subject_id": None, "consents": []}
    return {"status": subject.status, "subject_id": subject.id, "consents": consents}


def by_email(client: ApiClient, email: str) -> dict:
    """Everything ``client`` may know about the consents of the person at ``email``."""
    address = subjects.normalise_email(email)
    email_hash = subjects.address_hash(client.group_id, address)
    subject = db.session.scalar(
        select(Subject).where(Subject.group_id == client.group_id, Subject.email_hash == email_hash)
    )
    return _answer(client, subject, email_hash)


def by_id(client: ApiClient, subject_id: int) -> dict:
    """The same by subject id; NotFound outside the client's group (or brands)."""
    subject = db.session.get(Subject, subject_id)
    if subject is None or subject.group_id != client.group_id:
        raise NotFound("subject")
    answer = _answer(client, subject, subject.email_hash)
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
    from portal.core.clients import brands_of

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

    Answered with one query per 2,000 addresses, whatever the audience's size.
    """
    if len(audience.emails) > BULK_LIMIT:
        raise InvalidInput(
            "emails", _l("At most %(count)s addresses per request.", count=BULK_LIMIT)
        )
    topic = topic_of(client, audience.brand, audience.topic, audience.channel)
    hashes: list[str | None] = []
    for email in audience.emails:
        address = subjects.lookup_form(email)
        hashes.append(None if address is None else subjects.address_hash(client.group_id, address))
    wanted = list({h for h in hashes if h is not None})
    states: dict[str, str | None] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = db.session.execute(
            select(Subject.email_hash, Consent.state)
            .outerjoin(
                Consent,
                and_(
                    Consent.subject_id == Subject.id,
                    Consent.topic_id == topic.id,
                    Consent.channel == audience.channel,
                ),
            )
            .where(
                Subject.group_id == client.group_id,
                Subject.email_hash.in_(wanted[start : start + _CHUNK]),
            )
        )
        states.update((email_hash, state) for email_hash, state in rows)
    blocked = suppressed(client.group_id, wanted)
    results = []
    for email, email_hash in zip(audience.emails, hashes, strict=True):
        if email_hash is None:
            state = INVALID
        elif email_hash in blocked:
            state = SUPPRESSED
        else:
            state = states.get(email_hash) or UNKNOWN
        results.append({"email": email, "state": state, "contact": state == GRANTED})
    return results
