"""Lite registration with double opt-in: an email address and topics, then a confirmation.

The answer a person sees never depends on whether the address was new, pending, active or
suppressed: every path queues exactly one mail and returns nothing that tells them apart.
"""

from enum import Enum

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.core.consent import changes as consent
from portal.core.consent import gpc
from portal.core.consent.changes import Origin
from portal.core.consent.models import SignupRequest
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.models.group import Brand, ConsentText, Topic
from portal.core.kernel.transaction import transaction
from portal.core.mail import mails
from portal.core.people import erasure, subjects
from portal.core.people.models.subject import ACTIVE
from portal.extensions import db

SIGNUP_CHANNEL = "email"  # lite registration asks for nothing but an address


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
    """Register interest in ``topic_ids`` of ``brand`` and queue the mail that follows.

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
    with transaction():
        subject = subjects.find_or_create(brand.group_id, address, language)
        consent.lock(subject)  # a second sign-up at the same moment waits here
        gpc.opt_out(subject, origin)
        pending = consent.request(
            subject, topics, SIGNUP_CHANNEL, text, language, brand.policy_version, origin
        )
        if subject.status == ACTIVE:
            mails.already_registered(subject, brand, pending)
        else:
            mails.confirm_signup(pending)
    return address


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
    with transaction():
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
    with transaction():
        pending = find_request(group_id, subject_id, request_id)
        if pending is None or pending.confirmed_at is not None:
            return False
        mails.confirm_signup(pending)
        return True
