"""The preference centre: what a subject holds across the whole site group, and changes to it.

``centre`` reads everything the page shows in a fixed number of queries, whatever the number
of brands, topics and consents. ``apply`` validates a set of changes completely before it
writes any of them, then writes them in one transaction through ``portal.core.consent.changes``.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select
from sqlalchemy.orm import selectinload

from portal.core.consent import changes as consent
from portal.core.consent import gpc
from portal.core.consent.changes import Origin
from portal.core.consent.models import GRANTED, Consent
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.models.group import Brand, ConsentText, Topic, in_language
from portal.core.kernel.transaction import transaction
from portal.core.people import profile
from portal.core.people.models.subject import Subject
from portal.extensions import db

CONTACT_FOR = {"sms": profile.MOBILE, "post": profile.POSTAL}

Key = tuple[int, str]  # (topic id, channel)


class Held(NamedTuple):
    """What the subject holds on one row of the centre."""

    state: str
    since: datetime
    source: str


class Offer(NamedTuple):
    """A topic as the centre shows it, in the page's language."""

    id: int
    name: str
    description: str
    channels: list[str]


class House(NamedTuple):
    """An active brand of the group with the topics it offers, in their order."""

    id: int
    slug: str
    name: str
    offers: list[Offer]


@dataclass
class Centre:
    subject: Subject
    houses: list[House]
    held: dict[Key, Held]
    fields: dict = field(default_factory=dict)

    def granted(self, key: Key) -> bool:
        row = self.held.get(key)
        return row is not None and row.state == GRANTED


# The centre's two reads, built once: building a select costs about as much as running it
# on the centre's few rows, and every page view runs both.
_HELD = select(
    Consent.topic_id, Consent.channel, Consent.state, Consent.since, Consent.source
).where(Consent.subject_id == bindparam("subject_id"))
_OFFERED = (
    select(Brand.id, Brand.slug, Brand.name)
    .add_columns(Topic.id, Topic.key, Topic.names, Topic.descriptions, Topic.channels)
    .outerjoin(Topic, Topic.brand_id == Brand.id)
    .where(Brand.group_id == bindparam("group_id"), Brand.archived_at.is_(None))
    .order_by(Brand.position, Brand.id, Topic.position, Topic.id)
)


def _houses(group_id: int, language: str) -> list[House]:
    houses: dict[int, House] = {}
    rows = db.session.execute(_OFFERED, {"group_id": group_id})
    for brand_id, slug, name, topic_id, key, names, descriptions, channels in rows:
        house = houses.get(brand_id)
        if house is None:
            house = houses[brand_id] = House(brand_id, slug, name, [])
        if topic_id is not None:  # a brand without topics still shows, with nothing to tick
            house.offers.append(
                Offer(
                    topic_id,
                    in_language(names, language) or key,
                    in_language(descriptions, language),
                    channels,
                )
            )
    return list(houses.values())


def centre(subject: Subject, language: str) -> Centre:
    """Every active brand of the subject's group with its topics, and what the subject holds.

    Read as plain tuples in a fixed number of queries: the page shows 100-odd rows, and
    ORM objects cost several times more to load and to read for the few values it needs.
    """
    rows = db.session.execute(_HELD, {"subject_id": subject.id})
    held = {(topic_id, channel): Held(*rest) for topic_id, channel, *rest in rows}
    houses = _houses(subject.group_id, language)
    return Centre(subject, houses, held, profile.fields_of(subject))


@dataclass(frozen=True)
class Change:
    """One row of the page: the state it showed (``shown``) and the state asked for."""

    topic_id: int
    channel: str
    wanted: bool
    shown: bool


class ContactNeeded(InvalidInput):
    """A channel was turned on that needs a contact field the subject has not given."""

    def __init__(self, field_name: str, message, key: Key):
        super().__init__(field_name, message)
        self.key = key


@dataclass
class Outcome:
    changed: list[Key] = field(default_factory=list)
    # Rows another tab or device changed since the page was shown: key -> state now.
    conflicts: dict[Key, bool] = field(default_factory=dict)


def _topics(subject: Subject, changes: list[Change]) -> dict[int, Topic]:
    ids = {change.topic_id for change in changes}
    topics = db.session.scalars(
        select(Topic)
        .join(Brand)
        .where(Topic.id.in_(ids), Brand.group_id == subject.group_id, Brand.archived_at.is_(None))
        .options(selectinload(Topic.brand))
    ).all()
    found = {topic.id: topic for topic in topics}
    if len(found) != len(ids):
        raise InvalidInput("form", _l("One of these topics is not offered here. Reload the page."))
    for change in changes:
        if change.channel not in found[change.topic_id].channels:
            raise InvalidInput(
                "form", _l("One of these topics cannot be received that way. Reload the page.")
            )
    return found


def _contacts(subject, changes, held, contact: dict) -> dict[str, str]:
    """The contact fields to store: given ones validated, missing needed ones refused."""
    given = {name: value for name, value in contact.items() if value}
    fields = profile.fields_of(subject)
    for change in changes:
        name = CONTACT_FOR.get(change.channel)
        row = held.get((change.topic_id, change.channel))
        turning_on = change.wanted and change.wanted != change.shown
        held_now = row is not None and row.state == GRANTED
        if name and turning_on and not held_now and name not in given and name not in fields:
            message = (
                _l("Enter your mobile number to receive SMS.")
                if name == profile.MOBILE
                else _l("Enter your postal address to receive post.")
            )
            raise ContactNeeded(name, message, (change.topic_id, change.channel))
    return given


def apply(
    subject: Subject, changes: list[Change], contact: dict, language: str, origin: Origin
) -> Outcome:
    """Apply what the person changed on the page, and nothing else, in one transaction.

    Only rows whose asked state differs from what the page showed are changes. A row whose
    stored state moved since the page was shown (another tab) is not overwritten: it is
    reported in ``conflicts``. Setting a consent to the state it has writes no ledger row.
    ``contact`` holds already validated values (``profile.parse_*``) keyed by field name.
    Raises InvalidInput (nothing written) for a foreign topic, a channel the topic does not
    offer, a channel turned on without the contact it needs, or (with a Global Privacy
    Control signal) a topic sharing with third parties turned on; with that signal every
    sharing topic held is withdrawn in the same transaction.
    """
    outcome = Outcome()
    if not changes:
        return outcome
    topics = _topics(subject, changes)
    if gpc.signalled(origin) and any(
        change.wanted and not change.shown and topics[change.topic_id].shares_with_third_parties
        for change in changes
    ):
        raise InvalidInput(
            "form",
            _l(
                "Your browser asks us not to share your data (Global Privacy Control), "
                "so topics shared with partners cannot be turned on."
            ),
        )
    held = consent.held_for_change(subject)  # what the page showed is compared with this
    given = _contacts(subject, changes, held, contact)
    was_granted = {key: row.state == GRANTED for key, row in held.items()}
    texts: dict[int, ConsentText] = {}
    with transaction():
        for name, value in given.items():
            profile.set_field(subject, name, value, actor=origin.actor)
        gpc.opt_out(subject, origin)
        for change in changes:
            key = (change.topic_id, change.channel)
            now_granted = was_granted.get(key, False)
            if now_granted != change.shown:
                outcome.conflicts[key] = now_granted
                continue
            if change.wanted == change.shown:
                continue
            topic = topics[change.topic_id]
            if change.wanted:
                if topic.brand_id not in texts:
                    texts[topic.brand_id] = _latest_text(topic.brand_id)
                text = texts[topic.brand_id]
                consent.grant(subject, topic, change.channel, text, language, origin)
            else:
                consent.withdraw(subject, topic, change.channel, origin)
            outcome.changed.append(key)
    return outcome


def _latest_text(brand_id: int) -> ConsentText:
    return db.session.scalar(
        select(ConsentText)
        .where(ConsentText.brand_id == brand_id)
        .order_by(ConsentText.version.desc())
        .limit(1)
    )


def unsubscribe_all(subject: Subject, origin: Origin, brand: Brand | None = None) -> int:
    """ "Unsubscribe from all of <brand>" or from everything: one transaction, one call."""
    if brand is not None and brand.group_id != subject.group_id:
        raise InvalidInput("form", _l("This house is not part of this group."))
    with transaction():
        return consent.withdraw_all(subject, origin, brand.id if brand else None)
