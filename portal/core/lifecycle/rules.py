"""Each rule: which subjects of a group it applies to now, and what it does to one of them.

``candidates(ctx)`` is a query of subject ids (None when the group turned the rule off).
Each starts from the people who may be due, by a range of an index on a time kept as things
happen (``_due``: last activity, the date of an unconfirmed sign-up, of a re-permission mail,
of a field's last confirmation, of becoming a former customer), and asks its exact question
of those only: a run reads the people who became due, not every person of the group. The
exact question alone (``Context.everyone``) gives the same people, reading everyone.

``act(subject, ctx)`` works in the caller's transaction and is only called after the
subject's row is locked and the same query found it again, so it acts on fresh facts.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select, true, union_all
from sqlalchemy.orm import aliased

from portal.core.consent import changes as consent
from portal.core.consent.changes import Origin
from portal.core.consent.models import GRANTED, PENDING, Consent, SignupRequest
from portal.core.kernel.models.group import SiteGroup
from portal.core.lifecycle import reminders
from portal.core.lifecycle.activity import consent_ended_before, inactive_since, last_activity
from portal.core.lifecycle.models import (
    CUSTOMER,
    DORMANT,
    FORMER,
    FORMER_CUSTOMER,
    FRESHNESS,
    LAPSE,
    REPERMISSION,
    UNCONFIRMED,
    LifecycleNotice,
    LifecyclePolicy,
)
from portal.core.lifecycle.policy import months_ago
from portal.core.people import erasure
from portal.core.people.models.profile import ProfileField
from portal.core.people.models.subject import ACTIVE, Subject
from portal.core.people.models.subject import PENDING as UNCONFIRMED_SUBJECT
from portal.extensions import db


@dataclass(frozen=True)
class Context:
    group: SiteGroup
    policy: LifecyclePolicy
    now: datetime
    only: int | None = None  # one subject: the query asked again about it, under its lock
    everyone: bool = False  # ask every person, not only those an index says may be due


def origin(rule: str) -> Origin:
    """Changes made by a rule: source "retention", actor ``retention:<rule>``."""
    return Origin(source="retention", actor=f"retention:{rule}", evidence={"rule": rule})


def _of(ctx: Context):
    mine = Subject.group_id == ctx.group.id
    return mine if ctx.only is None else mine & (Subject.id == ctx.only)


def _due(ctx: Context, *ids):
    """SQL on ``Subject``: the subject is among ``ids`` (queries of subject ids, each a range
    of one index); always true with ``ctx.everyone``."""
    if ctx.everyone:
        return true()
    return Subject.id.in_(union_all(*ids) if len(ids) > 1 else ids[0])


def _holds(*states):
    return exists(
        select(Consent.id).where(Consent.subject_id == Subject.id, Consent.state.in_(states))
    )


def _open_repermission(subject_id=Subject.id):
    """A re-permission notice to the subject neither answered nor lapsed yet."""
    return and_(
        LifecycleNotice.subject_id == subject_id,
        LifecycleNotice.rule == REPERMISSION,
        LifecycleNotice.answered_at.is_(None),
        LifecycleNotice.lapsed_at.is_(None),
    )


def _erase(subject: Subject, rule: str, why: str, **options) -> bool:
    """Erase the subject for ``rule``; the erasure record says the rule and ``why``."""
    erasure.erase(subject, f"retention:{rule}", origin(rule), reason=f"{rule}: {why}", **options)
    return True


def _last_active(subject: Subject) -> datetime | None:
    return db.session.scalar(last_activity(subject.id))


# Unconfirmed sign-ups: deleted after N days. A new sign-up within the window restarts it.
# Someone never confirmed is erased; a known person's unconfirmed request for more topics
# is dropped and its pending consents expire.
def unconfirmed(ctx: Context):
    if not ctx.policy.unconfirmed_days:
        return None
    cutoff = ctx.now - timedelta(days=ctx.policy.unconfirmed_days)
    recent = select(SignupRequest.id).where(
        SignupRequest.subject_id == Subject.id, SignupRequest.requested_at >= cutoff
    )
    stale = select(SignupRequest.id).where(
        SignupRequest.subject_id == Subject.id,
        SignupRequest.confirmed_at.is_(None),
        SignupRequest.requested_at < cutoff,
    )
    never_confirmed = and_(
        Subject.status == UNCONFIRMED_SUBJECT, Subject.created_at < cutoff, ~exists(recent)
    )
    waiting = aliased(Subject)
    due = _due(
        ctx,
        select(waiting.id).where(
            waiting.group_id == ctx.group.id,
            waiting.status == UNCONFIRMED_SUBJECT,
            waiting.created_at < cutoff,
        ),
        select(SignupRequest.subject_id).where(
            SignupRequest.confirmed_at.is_(None), SignupRequest.requested_at < cutoff
        ),
    )
    return select(Subject.id).where(
        _of(ctx), due, or_(never_confirmed, and_(Subject.status == ACTIVE, exists(stale)))
    )


def drop_unconfirmed(subject: Subject, ctx: Context) -> bool:
    days = ctx.policy.unconfirmed_days
    if subject.status == ACTIVE:
        return _drop_requests(subject, ctx)
    consent.expire(subject, UNCONFIRMED, origin(UNCONFIRMED), states=(PENDING,))
    why = f"sign-up not confirmed within {days} days"
    return _erase(subject, UNCONFIRMED, why, suppress=False, notify=False)


def _drop_requests(subject: Subject, ctx: Context) -> bool:
    """Delete the person's unconfirmed requests older than the window; the consents they
    left pending expire unless a newer request still waits for them."""
    cutoff = ctx.now - timedelta(days=ctx.policy.unconfirmed_days)
    requests = db.session.scalars(
        select(SignupRequest).where(
            SignupRequest.subject_id == subject.id, SignupRequest.confirmed_at.is_(None)
        )
    ).all()
    stale = [r for r in requests if r.requested_at < cutoff]
    waiting = {
        (topic_id, r.channel)
        for r in requests
        if r.requested_at >= cutoff
        for topic_id in r.topic_ids
    }
    for request in stale:
        db.session.delete(request)
    lapsed = [
        row
        for row in consent.current(subject).values()
        if row.state == PENDING and (row.topic_id, row.channel) not in waiting
    ]
    consent.expire_rows(subject, lapsed, UNCONFIRMED, origin(UNCONFIRMED))
    return bool(stale)


# Re-permission: consents not confirmed or used for N months get one mail asking again.
def repermission(ctx: Context):
    if not ctx.policy.repermission_months:
        return None
    return select(Subject.id).where(
        _of(ctx),
        Subject.status == ACTIVE,
        inactive_since(months_ago(ctx.now, ctx.policy.repermission_months)),
        _holds(GRANTED),
        ~exists(select(LifecycleNotice.id).where(_open_repermission())),
    )


def ask_again(subject: Subject, ctx: Context) -> bool:
    since = _last_active(subject)
    return reminders.repermission(subject, since.date().isoformat(), ctx)


# Lapse: no answer within M days of the re-permission mail, and the consents expire.
def lapse(ctx: Context):
    if not ctx.policy.repermission_months:
        return None
    cutoff = ctx.now - timedelta(days=ctx.policy.repermission_answer_days)
    overdue = select(LifecycleNotice.id).where(
        _open_repermission(), LifecycleNotice.sent_at < cutoff
    )
    due = _due(
        ctx,
        select(LifecycleNotice.subject_id).where(
            _open_repermission(LifecycleNotice.subject_id), LifecycleNotice.sent_at < cutoff
        ),
    )
    return select(Subject.id).where(_of(ctx), due, exists(overdue))


def let_lapse(subject: Subject, ctx: Context) -> bool:
    """Anything the person did after the mail (a sign-in, a change) counts as an answer."""
    notice = db.session.scalar(select(LifecycleNotice).where(_open_repermission(subject.id)))
    since = _last_active(subject)
    if since is not None and since > notice.sent_at:
        notice.answered_at = since
        return False
    lapse_origin = Origin(
        "retention",
        f"retention:{REPERMISSION}",
        evidence={"notice": notice.id, "answer_days": ctx.policy.repermission_answer_days},
    )
    consent.expire(subject, REPERMISSION, lapse_origin)
    notice.lapsed_at = ctx.now
    return True


# Freshness: a profile field not confirmed for its interval; one mail per person per period.
def freshness(ctx: Context):
    intervals = ctx.policy.reconfirm_months or {}
    if not intervals:
        return None
    due = or_(
        *(
            and_(ProfileField.name == name, ProfileField.confirmed_at < months_ago(ctx.now, months))
            for name, months in intervals.items()
        )
    )
    recent = select(LifecycleNotice.id).where(
        LifecycleNotice.subject_id == Subject.id,
        LifecycleNotice.rule == FRESHNESS,
        LifecycleNotice.sent_at >= months_ago(ctx.now, min(intervals.values())),
    )
    held = select(ProfileField.id).where(ProfileField.subject_id == Subject.id, due)
    stale = _due(
        ctx,
        *(
            select(ProfileField.subject_id).where(
                ProfileField.name == name, ProfileField.confirmed_at < months_ago(ctx.now, months)
            )
            for name, months in intervals.items()
        ),
    )
    return select(Subject.id).where(
        _of(ctx), stale, Subject.status == ACTIVE, exists(held), ~exists(recent)
    )


def ask_fresh(subject: Subject, ctx: Context) -> bool:
    return reminders.freshness(subject, ctx)


# Dormancy: no consent left and no activity for N months: erased (Art. 5(1)(e)).
def dormant(ctx: Context):
    if not ctx.policy.dormant_months:
        return None
    # Customers are the integrating system's to keep; former customers have their own rule.
    spared = [CUSTOMER, FORMER] if ctx.policy.former_customer_months else [CUSTOMER]
    return select(Subject.id).where(
        _of(ctx),
        inactive_since(months_ago(ctx.now, ctx.policy.dormant_months)),
        ~_holds(GRANTED, PENDING),
        or_(Subject.relationship_status.is_(None), Subject.relationship_status.not_in(spared)),
    )


def erase_dormant(subject: Subject, ctx: Context) -> bool:
    months = ctx.policy.dormant_months
    return _erase(subject, DORMANT, f"no consent and no activity for {months} months")


# Former customers: kept N months after their last consent ended, then erased.
def former_customer(ctx: Context):
    if not ctx.policy.former_customer_months:
        return None
    cutoff = months_ago(ctx.now, ctx.policy.former_customer_months)
    former = aliased(Subject)
    due = _due(
        ctx,
        select(former.id).where(
            former.group_id == ctx.group.id,
            former.relationship_status == FORMER,
            or_(former.relationship_since.is_(None), former.relationship_since < cutoff),
        ),
    )
    return select(Subject.id).where(
        _of(ctx),
        due,
        Subject.relationship_status == FORMER,
        consent_ended_before(cutoff),
        ~_holds(GRANTED, PENDING),
    )


def erase_former(subject: Subject, ctx: Context) -> bool:
    months = ctx.policy.former_customer_months
    why = f"former customer, {months} months after the last consent"
    return _erase(subject, FORMER_CUSTOMER, why)


@dataclass(frozen=True)
class Rule:
    name: str
    verb: str  # what it does to each subject, for `flask lifecycle run`
    candidates: Callable[[Context], object]
    act: Callable[[Subject, Context], bool]


# In this order: erasures of the unconfirmed first, lapses before new reminders, so a
# person is never asked again on the run that lets their consents lapse.
RULES = (
    Rule(UNCONFIRMED, "erase or drop the unconfirmed sign-ups of", unconfirmed, drop_unconfirmed),
    Rule(LAPSE, "expire the consents of", lapse, let_lapse),
    Rule(REPERMISSION, "mail", repermission, ask_again),
    Rule(FRESHNESS, "mail", freshness, ask_fresh),
    Rule(DORMANT, "erase", dormant, erase_dormant),
    Rule(FORMER_CUSTOMER, "erase", former_customer, erase_former),
)
