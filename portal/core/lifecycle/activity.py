"""When did the person last do something? Computed in SQL from what is already recorded.

Activity is the latest of: joining, confirming the sign-up, any ledger row the person caused
(every request, confirmation, grant and withdrawal: rows written by a retention rule, actor
``retention:<rule>``, are not the person's doing), a sign-in link used, a passkey added or
used to sign in, a profile field
entered, edited or confirmed, and an answer to a reminder. Nothing new is written anywhere
to know it.

The rules ask "is the latest before the cut-off?" of every subject of a group. They ask it
as conditions on each subject's own row (nothing done at or after the cut-off, something
done at all) rather than by joining a GROUP BY of every time of the whole group: that join
read the whole group per rule, and with row estimates off (just after an import, before
PostgreSQL's statistics catch up) its planner compared every subject with every other
(3 s for 10,000 people). Each condition below is an index probe per subject instead.
"""

from datetime import datetime

from sqlalchemy import and_, exists, func, not_, or_, select, union_all, update
from sqlalchemy.orm import aliased

from portal.core.consent.changes import RETENTION_ACTOR
from portal.core.consent.models import EXPIRED, WITHDRAWAL, LedgerEntry
from portal.core.kernel.transaction import commit_session
from portal.core.lifecycle.models import LifecycleNotice
from portal.core.people.models.access import SignInLink
from portal.core.people.models.passkey import Passkey
from portal.core.people.models.profile import ProfileField
from portal.core.people.models.subject import Subject
from portal.extensions import db


def _activity():
    """Each kind of activity of the subject ``Subject`` stands for: (time column, the
    conditions tying its table's rows to the subject; none for the subject's own columns).

    A subject's ledger rows are all of its group (ledger.append is given subject.group_id),
    so the group is not asked again: asked, it tempted the planner to read the whole
    group's ledger through its (group_id, seq) key once per subject."""
    return [
        (Subject.created_at, ()),
        (Subject.confirmed_at, ()),
        (
            LedgerEntry.occurred_at,
            (
                LedgerEntry.subject_id == Subject.id,
                not_(LedgerEntry.actor.startswith(RETENTION_ACTOR)),
            ),
        ),
        (SignInLink.used_at, (SignInLink.subject_id == Subject.id,)),
        (Passkey.created_at, (Passkey.subject_id == Subject.id,)),
        (Passkey.last_used_at, (Passkey.subject_id == Subject.id,)),
        (ProfileField.confirmed_at, (ProfileField.subject_id == Subject.id,)),
        (ProfileField.updated_at, (ProfileField.subject_id == Subject.id,)),
        (LifecycleNotice.answered_at, (LifecycleNotice.subject_id == Subject.id,)),
    ]


def _consent_ends():
    """Each kind of end of consent, in the shape of ``_activity``."""
    return [
        (
            LedgerEntry.occurred_at,
            (
                LedgerEntry.subject_id == Subject.id,
                LedgerEntry.action.in_((WITHDRAWAL, EXPIRED)),
            ),
        ),
        (Subject.relationship_since, ()),
    ]


def _any(at, tied, test):
    """SQL, never NULL: the subject has a time ``at`` meeting ``test``."""
    if not tied:
        return and_(at.is_not(None), test(at))
    return exists().where(*tied, test(at))


def _latest_before(times, cutoff: datetime):
    """SQL condition on ``Subject``: the latest of ``times`` is before ``cutoff``, as max()
    would say: empty times do not count, and a subject with none at all is not before."""
    return and_(
        *(not_(_any(at, tied, lambda t: t >= cutoff)) for at, tied in times),
        or_(*(_any(at, tied, lambda t: t.is_not(None)) for at, tied in times)),
    )


def inactive_since(cutoff: datetime):
    """SQL condition on ``Subject``: the subject's last activity is before ``cutoff``.

    ``Subject.active_at`` comes first: never later than the activity recorded, it picks by an
    index range the people who may have become inactive (or whose activity is not known
    yet), and only those are asked the exact question below. A run then reads the people who
    became due, not every person of the group."""
    maybe = or_(Subject.active_at.is_(None), Subject.active_at < cutoff)
    return and_(maybe, _latest_before(_activity(), cutoff))


def consent_ended_before(cutoff: datetime):
    """SQL condition on ``Subject``: the subject's last consent was withdrawn or expired, or
    they became a former customer, whichever is later, before ``cutoff``."""
    return _latest_before(_consent_ends(), cutoff)


def _latest(subject_id=None):
    """SQL: the latest activity of the subject ``subject_id``, or, without one, of the row of
    ``Subject`` the enclosing statement is at (a correlated subquery); None if nothing is
    known."""
    parts = []
    for at, tied in _activity():
        part = select(at.label("at")).where(*tied)
        if subject_id is None:
            part = part.correlate(Subject)
        else:
            part = part.where(Subject.id == subject_id)
        parts.append(part)
    every = union_all(*parts).subquery()
    return select(func.max(every.c.at))


def last_activity(subject_id: int):
    """A query of one subject's latest activity (None if nothing is known)."""
    return _latest(subject_id)


def fill_in(group_id: int, limit: int = 10_000) -> int:
    """Give up to ``limit`` people of the group whose ``active_at`` is not known (people from
    before it was kept) their latest recorded activity; returns how many.

    One UPDATE for the whole batch, each row's value the subquery ``last_activity`` asks of
    one person, correlated to that row: a batch is one statement however large. `flask
    lifecycle run` calls it, so a large group is filled in over a few runs, each in bounded
    time; a row another run filled meanwhile is left as that run wrote it."""
    unknown = aliased(Subject)
    batch = (
        select(unknown.id)
        .where(unknown.group_id == group_id, unknown.active_at.is_(None))
        .order_by(unknown.id)
        .limit(limit)
    )
    with commit_session():
        done = db.session.execute(
            update(Subject)
            .where(Subject.id.in_(batch.scalar_subquery()), Subject.active_at.is_(None))
            .values(active_at=_latest().scalar_subquery())
            .execution_options(synchronize_session=False)
        )
    return done.rowcount
