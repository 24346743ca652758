"""Recording consent captured elsewhere: a call-centre agent, a shop till, a paper form.

A withdrawal applies at once (GDPR Art. 7(3)). A grant on the email channel starts double
opt-in, exactly like a sign-up, unless the client is a verified source: an address typed by an
agent proves nothing about who owns it. Addresses on the suppression list accept withdrawals
only.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.core.consent import changes as consent
from portal.core.consent.changes import Origin
from portal.core.integrations import lookup
from portal.core.integrations.models.api import ApiClient
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidInput, Refused
from portal.core.kernel.models.group import ConsentText
from portal.core.mail import mails
from portal.core.people import subjects
from portal.core.people.models.subject import ACTIVE
from portal.extensions import db

GRANT, WITHDRAW = "grant", "withdraw"
# Clocks of tills and phones drift; a capture further in the future than this is a mistake.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Capture:
    email: str
    brand: str
    topic: str
    channel: str
    action: str
    captured_at: datetime
    evidence: dict = field(default_factory=dict)
    text_version: int | None = None
    language: str | None = None


def _text(brand_id: int, version: int | None) -> ConsentText:
    if version is None:
        raise InvalidInput("text_version", _l("A grant needs the version of the consent text."))
    text = db.session.scalar(
        select(ConsentText).where(ConsentText.brand_id == brand_id, ConsentText.version == version)
    )
    if text is None:
        raise InvalidInput("text_version", _l("This brand has no such consent text version."))
    return text


def record(client: ApiClient, capture: Capture, ip: str | None, user_agent: str | None):
    """Apply one captured grant or withdrawal; returns (HTTP status, answer) for the API.

    Works in the caller's transaction (see ``idempotency.once``).
    """
    topic = lookup.topic_of(client, capture.brand, capture.topic, capture.channel)
    brand = topic.brand
    if capture.captured_at > clock.now() + CLOCK_SKEW:
        raise InvalidInput("captured_at", _l("A consent cannot be captured in the future."))
    address = subjects.normalise_email(capture.email)
    email_hash = subjects.address_hash(client.group_id, address)
    evidence = {**capture.evidence, "captured_at": capture.captured_at.isoformat()}
    origin = Origin(
        source="api",
        actor=f"api:{client.name}"[:80],
        ip=ip,
        user_agent=user_agent,
        evidence=evidence,
    )
    answer = {"brand": brand.slug, "topic": topic.key, "channel": capture.channel}

    if capture.action == WITHDRAW:
        subject = subjects.find(client.group_id, address)
        if subject is None:
            return 200, {**answer, "subject_id": None, "state": lookup.UNKNOWN, "changed": False}
        changed = consent.withdraw(subject, topic, capture.channel, origin)
        state = consent.current(subject).get((topic.id, capture.channel))
        return 200, {
            **answer,
            "subject_id": subject.id,
            "state": state.state if state else lookup.UNKNOWN,
            "changed": changed,
        }

    if email_hash in lookup.suppressed(client.group_id, [email_hash]):
        raise Refused(
            "suppressed", _l("This address is suppressed: only withdrawals are accepted.")
        )
    text = _text(brand.id, capture.text_version)
    group = brand.group
    language = capture.language or group.default_language
    subject = subjects.find_or_create(client.group_id, address, language)
    consent.lock(subject)  # captures of one person at the same moment wait here
    language = capture.language or subject.language
    if capture.channel == "email" and not client.verified_source:
        pending = consent.request(
            subject, [topic], "email", text, language, brand.policy_version, origin
        )
        if pending is None:
            return 200, {**answer, "subject_id": subject.id, "state": "granted", "changed": False}
        mails.confirm_signup(pending)
        return 202, {**answer, "subject_id": subject.id, "state": "pending", "changed": True}
    changed = consent.grant(subject, topic, capture.channel, text, language, origin)
    if capture.channel == "email" and subject.status != ACTIVE:
        subject.status, subject.confirmed_at = ACTIVE, clock.now()
    return 200, {**answer, "subject_id": subject.id, "state": "granted", "changed": changed}
