"""When did the person last do something? Computed in SQL from what is already recorded.

Activity is the latest of: joining, confirming the sign-up, any ledger row the person caused
(every request, confirmation, grant and withdrawal: rows written by a retention rule, actor
``retention:<rule>``, are not the person's doing), a sign-in link used, a profile field
entered, edited or confirmed, and an answer to a reminder. Nothing new is written anywhere
to know it.
"""

from sqlalchemy import func, not_, select, union_all

from portal.core.models import LedgerEntry, LifecycleNotice, ProfileField, SignInLink, Subject
from portal.core.models.consent import EXPIRED, WITHDRAWAL

RETENTION_ACTOR = "retention:"


def last_activity(group_id: int, only: int | None = None):
    """A subquery of (subject_id, at): each subject of the group and their latest activity;
    with ``only``, that one subject (every part is filtered, so it reads a few rows)."""
    of_group = Subject.group_id == group_id
    if only is not None:
        of_group = of_group & (Subject.id == only)
    parts = [
        select(Subject.id.label("subject_id"), Subject.created_at.label("at")).where(of_group),
        select(Subject.id, Subject.confirmed_at).where(of_group, Subject.confirmed_at.is_not(None)),
        select(LedgerEntry.subject_id, LedgerEntry.occurred_at).where(
            LedgerEntry.group_id == group_id,
            LedgerEntry.subject_id.is_not(None) if only is None else LedgerEntry.subject_id == only,
            not_(LedgerEntry.actor.startswith(RETENTION_ACTOR)),
        ),
        select(SignInLink.subject_id, SignInLink.used_at)
        .join(Subject, Subject.id == SignInLink.subject_id)
        .where(of_group, SignInLink.used_at.is_not(None)),
        select(ProfileField.subject_id, ProfileField.confirmed_at)
        .join(Subject, Subject.id == ProfileField.subject_id)
        .where(of_group),
        select(ProfileField.subject_id, ProfileField.updated_at)
        .join(Subject, Subject.id == ProfileField.subject_id)
        .where(of_group),
        select(LifecycleNotice.subject_id, LifecycleNotice.answered_at)
        .join(Subject, Subject.id == LifecycleNotice.subject_id)
        .where(of_group, LifecycleNotice.answered_at.is_not(None)),
    ]
    every = union_all(*parts).subquery()
    return (
        select(every.c.subject_id, func.max(every.c.at).label("at"))
        .group_by(every.c.subject_id)
        .subquery()
    )


def consent_ended(group_id: int, only: int | None = None):
    """A subquery of (subject_id, at): when each subject's last consent was withdrawn or
    expired, and when they became a former customer, whichever is later."""
    whose = LedgerEntry.subject_id.is_not(None) if only is None else LedgerEntry.subject_id == only
    of_group = Subject.group_id == group_id
    if only is not None:
        of_group = of_group & (Subject.id == only)
    parts = [
        select(
            LedgerEntry.subject_id.label("subject_id"), LedgerEntry.occurred_at.label("at")
        ).where(
            LedgerEntry.group_id == group_id, whose, LedgerEntry.action.in_((WITHDRAWAL, EXPIRED))
        ),
        select(Subject.id, Subject.relationship_since).where(
            of_group, Subject.relationship_since.is_not(None)
        ),
    ]
    every = union_all(*parts).subquery()
    return (
        select(every.c.subject_id, func.max(every.c.at).label("at"))
        .group_by(every.c.subject_id)
        .subquery()
    )
