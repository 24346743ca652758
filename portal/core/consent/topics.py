"""A brand's topics, its versioned consent texts and its privacy-policy version.

A consent text is never edited: a change is a new version, so every ledger row keeps pointing
at the exact words the person saw. Raising the policy version can ask every subscriber of the
brand to confirm again; their consents stay as they are until they do.
"""

import re

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.core.consent import changes as consent
from portal.core.consent.changes import Origin
from portal.core.consent.models import GRANTED, Consent
from portal.core.consent.signup import latest_text
from portal.core.console import audit
from portal.core.console.models import AdminAccount
from portal.core.kernel import clock, jobs
from portal.core.kernel.errors import InvalidFields, InvalidInput
from portal.core.kernel.models.base import CHANNELS
from portal.core.kernel.models.group import Brand, ConsentText, Topic
from portal.core.kernel.models.job import Job
from portal.core.kernel.transaction import commit_session
from portal.core.mail import mails
from portal.core.people import locks
from portal.core.people.models.subject import Subject
from portal.extensions import db

KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
RECONSENT_CHANNEL = "email"  # the mail asks again for what is sent by mail
ASK_AGAIN = "policy.ask_again"


def languages() -> list[str]:
    return current_app.config["LANGUAGES"]


def clean_texts(texts: dict, field: str = "text") -> dict:
    """One non-empty text per enabled language; raises InvalidFields (``<field>_<lang>``)."""
    cleaned, errors = {}, {}
    for language in languages():
        value = (texts.get(language) or "").strip()
        if not value or len(value) > 5000:
            errors[f"{field}_{language}"] = _l(
                "Enter the text in this language (5000 characters at most)."
            )
        cleaned[language] = value
    if errors:
        raise InvalidFields(errors)
    return cleaned


def clean_version(value: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > 40:
        raise InvalidInput(
            "policy_version", _l("Enter a version of 1 to 40 characters, like 2026-02.")
        )
    return value


def _clean_topic(brand: Brand, data: dict, topic: Topic | None) -> dict:
    errors, values = {}, {}
    key = (data.get("key") or "").strip() if topic is None else topic.key
    if topic is None and not KEY.match(key):
        errors["key"] = _l("Use 1 to 40 lower-case letters, digits, hyphens and underscores.")
    elif topic is None and db.session.scalar(
        select(Topic.id).where(Topic.brand_id == brand.id, Topic.key == key)
    ):
        errors["key"] = _l("This brand already has a topic with this key.")
    values["key"] = key
    names, descriptions = {}, {}
    for language in languages():
        name = (data.get(f"name_{language}") or "").strip()
        if not name or len(name) > 120:
            errors[f"name_{language}"] = _l("Enter a name of 1 to 120 characters.")
        names[language] = name
        description = (data.get(f"description_{language}") or "").strip()
        if len(description) > 500:
            errors[f"description_{language}"] = _l(
                "The description is too long (500 characters at most)."
            )
        descriptions[language] = description
    channels = [channel for channel in CHANNELS if channel in (data.get("channels") or [])]
    if not channels or len(channels) != len(set(data.get("channels") or [])):
        errors["channels"] = _l("Choose at least one channel.")
    if errors:
        raise InvalidFields(errors)
    values.update(
        names=names,
        descriptions=descriptions,
        channels=channels,
        marketing=bool(data.get("marketing")),
    )
    return values


def _state(topic: Topic) -> dict:
    return {
        "key": topic.key,
        "names": topic.names,
        "descriptions": topic.descriptions,
        "channels": topic.channels,
        "marketing": topic.marketing,
    }


def create_topic(admin: AdminAccount, brand: Brand, data: dict) -> Topic:
    values = _clean_topic(brand, data, None)
    with commit_session():
        topic = Topic(brand_id=brand.id, position=len(brand.topics), **values)
        db.session.add(topic)
        db.session.flush()
        audit.record(
            brand.group_id,
            admin,
            "topic.create",
            f"topic:{topic.id}",
            brand_id=brand.id,
            after=_state(topic),
        )
    return topic


def update_topic(admin: AdminAccount, topic: Topic, data: dict) -> None:
    """Change a topic's names, descriptions, channels or marketing flag (its key stays)."""
    values = _clean_topic(topic.brand, data, topic)
    with commit_session():
        before = _state(topic)
        for key, value in values.items():
            setattr(topic, key, value)
        audit.record(
            topic.brand.group_id,
            admin,
            "topic.update",
            f"topic:{topic.id}",
            brand_id=topic.brand_id,
            before=before,
            after=_state(topic),
        )


def new_text(admin: AdminAccount, brand: Brand, texts: dict) -> ConsentText:
    """Add the next version of the brand's consent text; earlier versions never change."""
    cleaned = clean_texts(texts)
    previous = latest_text(brand)
    if previous is not None and previous.texts == cleaned:
        raise InvalidInput("form", _l("The text is unchanged: there is no new version to save."))
    with commit_session():
        version = (
            db.session.scalar(
                select(func.max(ConsentText.version)).where(ConsentText.brand_id == brand.id)
            )
            or 0
        ) + 1
        text = ConsentText(
            brand_id=brand.id, version=version, texts=cleaned, created_at=clock.now()
        )
        db.session.add(text)
        db.session.flush()
        audit.record(
            brand.group_id,
            admin,
            "consent_text.create",
            f"consent_text:{text.id}",
            brand_id=brand.id,
            before={"version": previous.version if previous else None},
            after={"version": version, "texts": cleaned},
        )
    return text


def check_version(brand: Brand, version: str) -> str:
    """The cleaned new version; InvalidInput if it is empty, too long or the current one."""
    version = clean_version(version)
    if version == brand.policy_version:
        raise InvalidInput("policy_version", _l("This is already the current version."))
    return version


def reconsent_audience(brand: Brand) -> int:
    """How many people raising the policy version with "ask again" would mail now."""
    return db.session.scalar(
        select(func.count(func.distinct(Consent.subject_id))).where(*_asked(brand))
    )


def raise_policy(admin: AdminAccount, brand: Brand, version: str, ask_again: bool) -> Job | None:
    """Set a new privacy-policy version; with ``ask_again``, start a job that mails every
    subscriber of the brand a link to confirm their consents under it (the worker asks them,
    batch by batch). Returns the job, or None when nobody is asked."""
    version = check_version(brand, version)
    job = None
    with commit_session():
        # The brand's row, locked and read again: the same form posted twice at once raises
        # the version once, and the second post is told it is already current.
        db.session.execute(select(Brand.id).where(Brand.id == brand.id).with_for_update())
        db.session.refresh(brand)
        version = check_version(brand, version)
        before = {"policy_version": brand.policy_version}
        brand.policy_version = version
        after = {"policy_version": version}
        if ask_again:
            total = reconsent_audience(brand)
            job = jobs.start(
                ASK_AGAIN,
                brand.group_id,
                admin.label,
                total,
                brand_id=brand.id,
                admin_id=admin.id,
                params={"version": version},
            )
            after["asked_to_confirm"] = total
            after["job"] = job.id
        audit.record(
            brand.group_id,
            admin,
            "brand.policy_version",
            f"brand:{brand.id}",
            brand_id=brand.id,
            before=before,
            after=after,
        )
    return job


def _asked(brand: Brand):
    return (
        Consent.brand_id == brand.id,
        Consent.state == GRANTED,
        Consent.channel == RECONSENT_CHANNEL,
    )


@jobs.handler(ASK_AGAIN)
def ask_again_batch(job: Job, params: dict, limit: int) -> jobs.Batch:
    """Ask the next ``limit`` subscribers (by subject id) to confirm under the job's version.

    People who withdrew meanwhile are skipped by ``consent.ask_again``; people who signed up
    after the job started are asked too, since they hold a consent under the old text.
    """
    brand = db.session.get(Brand, job.brand_id)
    after = int(job.cursor or 0)
    ids = list(
        db.session.scalars(
            select(Consent.subject_id)
            .where(*_asked(brand), Consent.subject_id > after)
            .group_by(Consent.subject_id)
            .order_by(Consent.subject_id)
            .limit(limit)
        )
    )
    batch = jobs.Batch(cursor=str(ids[-1]) if ids else job.cursor, finished=len(ids) < limit)
    if not ids:
        return batch
    held: dict[int, set] = {}
    for subject_id, topic_id in db.session.execute(
        select(Consent.subject_id, Consent.topic_id).where(
            *_asked(brand), Consent.subject_id.in_(ids)
        )
    ):
        held.setdefault(subject_id, set()).add(topic_id)
    text = latest_text(brand)
    actor = job.created_by
    origin = Origin(source="admin", actor=actor, evidence={"reason": "policy_update"})
    locks.subjects(ids)  # all first, in id order: two such jobs never deadlock
    people = {s.id: s for s in db.session.scalars(select(Subject).where(Subject.id.in_(ids)))}
    for subject_id in ids:
        with jobs.item(batch, str(subject_id)):
            subject = people[subject_id]
            topics = [topic for topic in brand.topics if topic.id in held[subject_id]]
            pending = consent.ask_again(
                subject,
                topics,
                RECONSENT_CHANNEL,
                text,
                subject.language,
                params["version"],
                origin,
            )
            if pending is not None:
                mails.reconsent(pending)
    return batch
