"""`flask lifecycle run`: every rule of every group, once, in batches, safe in parallel.

Each subject is handled in a transaction of its own: its row is locked first (FOR UPDATE
SKIP LOCKED on PostgreSQL, so a second run on another machine passes over it instead of
waiting), then the rule's query is asked again about it alone (every part of it filtered
to that subject, so the check reads a few rows), which in READ COMMITTED sees
whatever another run committed meanwhile. A reminder's unique (subject, rule, period) key is
the last guard: a run that loses a race fails on it and sends nothing. Running again finds
nothing left to do until time or people move on.
"""

import logging
from dataclasses import replace

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.core.kernel import clock
from portal.core.kernel.models.group import SiteGroup
from portal.core.lifecycle import activity
from portal.core.lifecycle.policy import policy_of
from portal.core.lifecycle.rules import RULES, Context, Rule
from portal.core.people.models.subject import Subject
from portal.extensions import db

log = logging.getLogger(__name__)


def _context(group: SiteGroup) -> Context:
    return Context(group, policy_of(group), clock.now())


def count(group: SiteGroup) -> dict[str, int | None]:
    """How many subjects each rule would touch now (None: the rule is off), read in the
    caller's transaction. Writes nothing."""
    ctx = _context(group)
    counts = {}
    for rule in RULES:
        query = rule.candidates(ctx)
        counts[rule.name] = (
            None
            if query is None
            else db.session.scalar(select(func.count()).select_from(query.subquery()))
        )
    return counts


def preview(group: SiteGroup) -> dict[str, int | None]:
    """``count``, in a transaction of its own (ended: it only read)."""
    counts = count(group)
    db.session.rollback()
    return counts


def switched_on(group: SiteGroup) -> dict[str, bool]:
    """Which rules the group's policy turns on (no query is run)."""
    ctx = _context(group)
    return {rule.name: rule.candidates(ctx) is not None for rule in RULES}


def run(group: SiteGroup, batch: int = 100) -> dict[str, int | None]:
    """Apply every rule once; returns how many subjects each acted on (None: off)."""
    activity.fill_in(group.id)
    ctx = _context(group)
    done = {}
    for rule in RULES:
        query = rule.candidates(ctx)
        done[rule.name] = None if query is None else _apply(rule, ctx, query, batch)
    return done


def _apply(rule: Rule, ctx: Context, query, batch: int) -> int:
    acted, after = 0, 0
    while True:
        ids = list(
            db.session.scalars(query.where(Subject.id > after).order_by(Subject.id).limit(batch))
        )
        db.session.rollback()  # a read only: end it, each subject gets its own transaction
        for subject_id in ids:
            acted += _one(rule, ctx, subject_id)
        if len(ids) < batch:
            return acted
        after = ids[-1]


def _one(rule: Rule, ctx: Context, subject_id: int) -> int:
    lock = select(Subject).where(Subject.id == subject_id).execution_options(populate_existing=True)
    if db.engine.dialect.name == "postgresql":
        lock = lock.with_for_update(skip_locked=True)
    try:
        subject = db.session.scalar(lock)
        mine = rule.candidates(replace(ctx, only=subject_id))
        still = subject is not None and db.session.scalar(mine) is not None
        if not still:
            db.session.rollback()
            return 0
        acted = rule.act(subject, ctx)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # another run did it first
        log.info("lifecycle %s: subject %s already handled by another run", rule.name, subject_id)
        return 0
    except Exception:
        db.session.rollback()
        raise
    return 1 if acted else 0
