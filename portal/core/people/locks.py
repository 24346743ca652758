"""One order of locks: the people's (subjects') row locks first, the site group's lock last.

Two kinds of lock meet in most writes. A subject's row lock serialises changes to one person,
so each decides on what is stored when it runs (one intent, one effect), and keeps the order
of that person's feed events (``integrations.events``, which needs no group lock). The site
group's row lock serialises the ledger's hash chain. A transaction that took them the other
way round from another waits for it while it waits back: a deadlock, which PostgreSQL ends
by failing one of them. So every ledger row passes through ``group``, which takes the
people's locks it names first; a transaction that then reaches for another person's lock,
with the group's already held, is a programming error (``LockOrderError``): an operation on
many people locks them all up front with ``subjects``, in id order, so that two such
operations wait for each other in the same order too.

What is held is remembered per transaction in the session's ``info``; SQLite has one writer
at a time and ignores row locks, so there all this only keeps the bookkeeping.
"""

from collections.abc import Iterable

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from portal.core.kernel import many
from portal.core.people.models.subject import Subject
from portal.extensions import db

KEY = "portal.locks"


class LockOrderError(RuntimeError):
    """A person's lock asked for after the group's: the order that can deadlock."""


def _held() -> dict:
    return db.session.info.setdefault(KEY, {"subjects": set(), "groups": set()})


def subjects(ids: Iterable[int | None]) -> None:
    """Take the row locks of the subjects ``ids`` (in id order) until the transaction ends.

    FOR NO KEY UPDATE: rows that merely refer to a subject (consents, links) can still be
    written by others meanwhile; a second change to the same person waits here and then
    reads what the first one stored. Locks already held are not asked for again.
    """
    held = _held()
    wanted = sorted({i for i in ids if i is not None} - held["subjects"])
    if not wanted:
        return
    if held["groups"]:
        raise LockOrderError(
            f"subjects {wanted[:5]} locked after the group lock: lock every person first"
        )
    query = select(Subject.id).order_by(Subject.id).with_for_update(key_share=True)
    if len(wanted) == 1:
        query = query.where(Subject.id == wanted[0])
    else:
        query = query.where(many.among(Subject.id, wanted))
    with db.session.no_autoflush:  # the lock first, then anything this transaction wrote
        db.session.execute(query).all()
    held["subjects"].update(wanted)


def created(ids: Iterable[int]) -> None:
    """Subjects this transaction inserted: nobody else sees them yet, so they count as held."""
    _held()["subjects"].update(ids)


def group(group_id: int, subject_ids: Iterable[int | None] = ()) -> None:
    """Before the caller takes the group's row lock (the ledger's chain):
    the locks of the people the write is about, then a note that the group's is held."""
    subjects(subject_ids)
    _held()["groups"].add(group_id)


@event.listens_for(Session, "after_transaction_end")
def _released(session: Session, transaction) -> None:
    """Commit or rollback of the outermost transaction releases every row lock."""
    if transaction.parent is None:
        session.info.pop(KEY, None)
