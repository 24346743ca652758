"""What a person's answer to a reminder does, and a subject's relationship with the group."""

import logging
from enum import Enum

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.core.consent import changes as consent
from portal.core.consent.changes import Origin
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.transaction import commit_session
from portal.core.lifecycle.models import FRESHNESS, RELATIONSHIPS, REPERMISSION, LifecycleNotice
from portal.core.people import locks, profile, subjects
from portal.core.people.models.subject import Subject
from portal.extensions import db

log = logging.getLogger(__name__)


class Answer(Enum):
    DONE = "done"
    ALREADY = "already"  # answered before: nothing more to do
    LAPSED = "lapsed"  # too late: the consents have lapsed already
    UNKNOWN = "unknown"


def find_notice(group_id: int, payload, rule: str) -> LifecycleNotice | None:
    """The reminder a link names, if it exists in this group and is of the expected rule."""
    if not isinstance(payload, dict) or payload.get("g") != group_id:
        return None
    notice_id = payload.get("n")
    if not isinstance(notice_id, int):
        return None
    notice = db.session.scalar(
        select(LifecycleNotice)
        .join(Subject, Subject.id == LifecycleNotice.subject_id)
        .where(LifecycleNotice.id == notice_id, Subject.group_id == group_id)
    )
    return notice if notice is not None and notice.rule == rule else None


def subject_of(notice: LifecycleNotice) -> Subject:
    return db.session.get(Subject, notice.subject_id)


def _answering(group_id: int, payload, rule: str) -> LifecycleNotice | None:
    """The notice, read again under its person's lock: two answers at once act once."""
    notice = find_notice(group_id, payload, rule)
    if notice is None:
        return None
    locks.subjects([notice.subject_id])
    db.session.refresh(notice)
    return notice


def still_right(group_id: int, payload) -> Answer:
    """ "Still right": every field the mail listed is confirmed as of now."""
    with commit_session():
        notice = _answering(group_id, payload, FRESHNESS)
        if notice is None:
            return Answer.UNKNOWN
        if notice.answered_at is not None:
            return Answer.ALREADY
        now = clock.now()
        fields = profile.fields_of(subject_of(notice))
        for name in notice.fields:
            if name in fields:
                fields[name].confirmed_at = now
        notice.answered_at = now
        subjects.was_active({notice.subject_id: now})
        return Answer.DONE


def update(group_id: int, payload, values: dict[str, str], actor: str = "subject") -> Answer:
    """ "Update": store the corrected values (already validated by ``profile.parse_*``); an
    unchanged value counts as confirmed. Only fields the mail listed can be given."""
    with commit_session():
        notice = _answering(group_id, payload, FRESHNESS)
        if notice is None:
            return Answer.UNKNOWN
        if set(values) - set(notice.fields):
            raise InvalidInput("form", _l("This form is out of date. Please open the mail again."))
        subject, now = subject_of(notice), clock.now()
        for name, value in values.items():
            profile.set_field(subject, name, value, actor=actor).confirmed_at = now
        notice.answered_at = now
        subjects.was_active({notice.subject_id: now})
        return Answer.DONE


def keep(group_id: int, payload, origin: Origin) -> Answer:
    """ "Keep my subscriptions": every consent still held is confirmed again, in the ledger."""
    with commit_session():
        notice = _answering(group_id, payload, REPERMISSION)
        if notice is None:
            return Answer.UNKNOWN
        if notice.lapsed_at is not None:
            return Answer.LAPSED
        if notice.answered_at is not None:
            return Answer.ALREADY
        consent.reconfirm(subject_of(notice), origin)
        notice.answered_at = clock.now()
        subjects.was_active({notice.subject_id: notice.answered_at})
        return Answer.DONE


def set_relationship(subject: Subject, value: str | None, origin: Origin) -> bool:
    """Record what an integrating system says the person is to the group: customer, former
    customer, prospect, or None (not said). Returns whether it changed. Becoming a former
    customer starts the former-customer retention clock."""
    if value is not None and value not in RELATIONSHIPS:
        raise InvalidInput("relationship", _l("Use customer, former_customer or prospect."))
    if subject.relationship_status == value:
        return False
    with commit_session():
        record_relationship(subject, value)
    log.info("subject %s relationship set to %s by %s", subject.id, value, origin.actor)
    return True


def record_relationship(subject: Subject, value: str | None) -> None:
    """The change itself, in the caller's transaction (the API commits it with its key)."""
    if value is not None and value not in RELATIONSHIPS:
        raise InvalidInput("relationship", _l("Use customer, former_customer or prospect."))
    if subject.relationship_status != value:
        subject.relationship_status, subject.relationship_since = value, clock.now()
