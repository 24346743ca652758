"""Recording consent captured elsewhere: a call-centre agent, a shop till, a paper form.

A withdrawal applies at once (GDPR Art. 7(3)). A grant on the email channel starts double
opt-in, exactly like a sign-up, unless the client is a verified source: an address typed by an
agent proves nothing about who owns it. Addresses on the suppression list accept withdrawals
only.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.core.consent import changes as consent
from portal.core.consent.changes import Origin
from portal.core.consent.models import GRANT as GRANT_ACTION
from portal.core.consent.models import GRANTED, REQUESTED, WITHDRAWAL, WITHDRAWN
from portal.core.integrations import lookup
from portal.core.integrations.models.api import ApiClient
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidInput, Refused
from portal.core.kernel.models.group import ConsentText, SiteGroup
from portal.core.mail import mails
from portal.core.people import subjects
from portal.core.people.models.subject import ACTIVE
from portal.extensions import db

GRANT, WITHDRAW = "grant", "withdraw"


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


def consent_text(brand_id: int, version: int | None) -> ConsentText:
    if version is None:
        raise InvalidInput("text_version", _l("A grant needs the version of the consent text."))
    text = db.session.scalar(
        select(ConsentText).where(ConsentText.brand_id == brand_id, ConsentText.version == version)
    )
    if text is None:
        raise InvalidInput("text_version", _l("This brand has no such consent text version."))
    return text


APPLIED, UNCHANGED, STALE = "applied", "unchanged", "stale"


def group_created(client: ApiClient):
    """When the client's site group was set up: no consent is captured before."""
    return db.session.scalar(select(SiteGroup.created_at).where(SiteGroup.id == client.group_id))


def check_time(client: ApiClient, captured_at: datetime, created=None) -> None:
    """A capture happened while the group existed and not in the future beyond clock skew.
    ``created``: ``group_created(client)``, when the caller has it already."""
    skew = timedelta(seconds=current_app.config["API_CLOCK_SKEW_SECONDS"])
    if captured_at > clock.now() + skew:
        raise InvalidInput("captured_at", _l("A consent cannot be captured in the future."))
    created = created or group_created(client)
    if created is not None and captured_at < created:
        raise InvalidInput(
            "captured_at", _l("A consent cannot be captured before the site group existed.")
        )


def record(client: ApiClient, capture: Capture, ip: str | None, user_agent: str | None):
    """Apply one captured grant or withdrawal; returns what it did (brand, topic, channel,
    subject_id, state, changed, result, receipt). State "pending": an email grant waits for
    the person's confirmation (double opt-in).

    Changes count in the order they were captured, not the order they arrive: one captured
    before the latest stored change of that consent leaves its state alone and is kept in the
    ledger as history (result "stale"); the choice the consent holds, made again later, leaves
    it alone too but is kept as a repeat ("unchanged", with a receipt) that orders later
    arrivals (``changes.repeat``). ``receipt``: the hash of the ledger entry the call
    wrote, None when it wrote none. Not its seq: numbers counting the whole group's writes
    would tell a client limited to some brands how busy the others are.

    Works in the caller's transaction (see ``idempotency.once``).
    """
    topic = lookup.topic_of(client, capture.brand, capture.topic, capture.channel)
    brand = topic.brand
    at = capture.captured_at
    check_time(client, at)
    address = subjects.normalise_email(capture.email)
    email_hash = subjects.address_hash(client.group_id, address)
    evidence = {**capture.evidence, "captured_at": at.isoformat()}
    origin = Origin(
        source="api",
        actor=f"api:{client.name}"[:80],
        ip=ip,
        user_agent=user_agent,
        evidence=evidence,
    )
    answer = {"brand": brand.slug, "topic": topic.key, "channel": capture.channel}

    def done(subject, changed: bool, result: str | None = None, entry=None) -> dict:
        state = consent.current(subject).get((topic.id, capture.channel))
        if changed and entry is None:
            entry = consent.last_entry(subject, topic, capture.channel)
        return {
            **answer,
            "subject_id": subject.id,
            "state": state.state if state else lookup.UNKNOWN,
            "changed": changed,
            "result": result or (APPLIED if changed else UNCHANGED),
            "receipt": entry.hash if entry is not None else None,
        }

    if capture.action == WITHDRAW:
        subject = subjects.find(client.group_id, address)
        if subject is not None and not lookup.sees(client, subject.id):
            subject = None  # someone only with other brands reads exactly like no one
        if subject is None:
            return {
                **answer,
                "subject_id": None,
                "state": lookup.UNKNOWN,
                "changed": False,
                "result": UNCHANGED,
                "receipt": None,
            }
        consent.lock(subject)
        if consent.is_stale(subject, topic, capture.channel, at):
            entry = consent.record_stale(subject, topic, capture.channel, WITHDRAWAL, origin, at)
            return done(subject, False, STALE, entry)
        entry = consent.repeat(subject, topic, capture.channel, WITHDRAWN, origin, at)
        if entry is not None:  # withdrawn already: proof that the person said so again
            return done(subject, False, UNCHANGED, entry)
        return done(subject, consent.withdraw(subject, topic, capture.channel, origin, at))

    if email_hash in lookup.suppressed(client.group_id, [email_hash]):
        raise Refused(
            "suppressed", _l("This address is suppressed: only withdrawals are accepted.")
        )
    text = consent_text(brand.id, capture.text_version)
    group = brand.group
    language = capture.language or group.default_language
    subject = subjects.find_or_create(client.group_id, address, language)
    consent.lock(subject)  # captures of one person at the same moment wait here
    language = capture.language or subject.language
    double_opt_in = capture.channel == "email" and not client.verified_source
    if consent.is_stale(subject, topic, capture.channel, at):
        action = REQUESTED if double_opt_in else GRANT_ACTION
        entry = consent.record_stale(
            subject, topic, capture.channel, action, origin, at, text=text, language=language
        )
        return done(subject, False, STALE, entry)
    entry = consent.repeat(
        subject, topic, capture.channel, GRANTED, origin, at, text=text, language=language
    )
    if entry is not None:  # granted already: proof that the person said so again
        return done(subject, False, UNCHANGED, entry)
    if double_opt_in:
        pending = consent.request(
            subject, [topic], "email", text, language, brand.policy_version, origin, captured_at=at
        )
        if pending is None:
            return done(subject, False)
        mails.confirm_signup(pending)
        return done(subject, True)
    changed = consent.grant(subject, topic, capture.channel, text, language, origin, at)
    if capture.channel == "email" and subject.status != ACTIVE:
        subject.status, subject.confirmed_at = ACTIVE, clock.now()
    return done(subject, changed)
