"""Lite registration with double opt-in: an email address and topics, then a confirmation.

The answer a person sees never depends on whether the address was new, pending, active or
suppressed, and neither does the work behind it: the request is recorded alike for every
address (``address_requests``), and the worker decides which one mail it calls for.
"""

import dataclasses
from datetime import timedelta
from enum import Enum

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.core.consent import changes as consent
from portal.core.consent import gpc
from portal.core.consent.changes import Origin
from portal.core.consent.models import SignupRequest
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.models.group import Brand, ConsentText, Topic
from portal.core.kernel.transaction import commit_session
from portal.core.mail import address_requests, mails
from portal.core.people import erasure, locks, subjects
from portal.core.people.models.subject import ACTIVE
from portal.extensions import db

SIGNUP_CHANNEL = "email"  # lite registration asks for nothing but an address
SIGN_UP = "sign_up"  # the kind of address request


def latest_text(brand: Brand) -> ConsentText:
    return db.session.scalar(
        select(ConsentText)
        .where(ConsentText.brand_id == brand.id)
        .order_by(ConsentText.version.desc())
        .limit(1)
    )


def signup_topics(brand: Brand) -> list[Topic]:
    return [topic for topic in brand.topics if SIGNUP_CHANNEL in topic.channels]


def sign_up(
    brand: Brand,
    email: str,
    topic_ids: list[int],
    text_version_id: int,
    language: str,
    origin: Origin,
) -> str:
    """Record interest in ``topic_ids`` of ``brand``; the worker queues the mail (``decide``).

    Returns the normalised address. Raises InvalidInput for a bad address, no or foreign
    topics, or a consent text version that is not this brand's. With a Global Privacy
    Control signal, topics sharing with third parties are left out (and withdrawn if held).
    """
    address = subjects.normalise_email(email)
    offered = {topic.id: topic for topic in signup_topics(brand)}
    if not topic_ids:
        raise InvalidInput("topics", _l("Choose at least one topic."))
    if any(topic_id not in offered for topic_id in topic_ids):
        raise InvalidInput("topics", _l("One of the chosen topics is not offered here."))
    text = db.session.get(ConsentText, text_version_id) if text_version_id else None
    if text is None or text.brand_id != brand.id:
        raise InvalidInput("form", _l("This form is out of date. Please read it again and resend."))

    topics = [offered[topic_id] for topic_id in dict.fromkeys(topic_ids)]
    if gpc.signalled(origin):
        topics = [topic for topic in topics if not topic.shares_with_third_parties]
        if not topics:
            raise InvalidInput(
                "topics",
                _l(
                    "Your browser asks us not to share your data (Global Privacy Control), "
                    "and the chosen topics share it with partners. Choose another topic."
                ),
            )
    # The same single row whoever holds the address; the worker decides the rest (see below).
    # It changes nothing already loaded: the page that follows shows the brand as it was read.
    with commit_session(keep_loaded=True):
        address_requests.record(
            SIGN_UP,
            brand.group_id,
            address,
            brand=brand.id,
            topics=[topic.id for topic in topics],
            text=text.id,
            language=language,
            policy_version=brand.policy_version,
            origin=dataclasses.asdict(origin),
        )
    return address


@address_requests.handles(SIGN_UP)
def decide(group_id: int, address: str, details: dict, asked_at) -> None:
    """The worker's half of ``sign_up``: the pending consents and the one mail that follows.

    A new or pending address gets the double opt-in mail; an active one is told it is already
    registered (with a link for any topic it still has to confirm). Topics or a brand gone
    since the request are left out.
    """
    brand = db.session.get(Brand, details["brand"])
    text = db.session.get(ConsentText, details["text"])
    if brand is None or brand.group_id != group_id or text is None:
        return
    offered = {topic.id: topic for topic in signup_topics(brand)}
    topics = [offered[topic_id] for topic_id in details["topics"] if topic_id in offered]
    if not topics:
        return
    origin = Origin(**details["origin"])
    language, policy_version = details["language"], details["policy_version"]
    subject = subjects.find_or_create(group_id, address, language)
    consent.lock(subject)  # a second sign-up at the same moment waits here
    if _asked_just_now(subject, topics, text, asked_at):
        return  # a double click: the first one's request and mail stand
    gpc.opt_out(subject, origin)
    pending = consent.request(
        subject, topics, SIGNUP_CHANNEL, text, language, policy_version, origin, asked_at
    )
    if subject.status == ACTIVE:
        mails.already_registered(subject, brand, pending)
    else:
        mails.confirm_signup(pending)


def _asked_just_now(subject, topics: list[Topic], text: ConsentText, asked_at) -> bool:
    """Whether the same request (topics, text) is already waiting, made moments before: the
    same intent sent twice (a double click, a retried POST) has one effect, one mail."""
    since = asked_at - timedelta(seconds=current_app.config["SIGNUP_REPEAT_SECONDS"])
    latest = db.session.scalar(
        select(SignupRequest)
        .where(
            SignupRequest.subject_id == subject.id,
            SignupRequest.brand_id == topics[0].brand_id,
            SignupRequest.requested_at >= since,
        )
        .order_by(SignupRequest.id.desc())
        .limit(1)
    )
    return (
        latest is not None
        and latest.confirmed_at is None
        and latest.channel == SIGNUP_CHANNEL
        and latest.text_version_id == text.id
        and sorted(latest.topic_ids) == sorted(topic.id for topic in topics)
    )


class Confirmation(Enum):
    CONFIRMED = "confirmed"
    ALREADY = "already"
    UNKNOWN = "unknown"


def find_request(group_id: int, subject_id: int, request_id: int) -> SignupRequest | None:
    """The sign-up request a token names, if it still exists and belongs to that subject."""
    pending = db.session.get(SignupRequest, request_id)
    if pending is None or pending.subject_id != subject_id or pending.subject.group_id != group_id:
        return None
    return pending


def confirm(group_id: int, subject_id: int, request_id: int, origin: Origin) -> Confirmation:
    """Confirm a sign-up request once: its consents become granted, the subject active."""
    with commit_session():
        # The person's lock first: four clicks at once confirm once, the others wait here
        # and then read that it is done (what was read before the lock is read again).
        locks.subjects([subject_id] if isinstance(subject_id, int) else [])
        db.session.expire_all()
        pending = find_request(group_id, subject_id, request_id)
        if pending is None:
            return Confirmation.UNKNOWN
        if pending.confirmed_at is not None:
            return Confirmation.ALREADY
        consent.confirm(pending, origin)
        subject = pending.subject
        gpc.opt_out(subject, origin)  # asked for without the signal, confirmed with it
        erasure.lift_suppression(subject, origin)
        if subject.status != ACTIVE:
            subject.status, subject.confirmed_at = ACTIVE, clock.now()
        subject.email_confirmed_at = clock.now()  # the link proved the address reaches them
        return Confirmation.CONFIRMED


def resend(group_id: int, subject_id: int, request_id: int) -> bool:
    """Queue the confirmation mail again for an unconfirmed request (its link had expired)."""
    with commit_session():
        pending = find_request(group_id, subject_id, request_id)
        if pending is None or pending.confirmed_at is not None:
            return False
        mails.confirm_signup(pending)
        return True
