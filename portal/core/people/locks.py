"""People's (subjects') row locks: taken up front, in id order, held until the commit.

A subject's row lock serialises changes to one person, so each decides on what is stored
when it runs (one intent, one effect); it also orders that person's own ledger chain
(``ledger._heads`` reads the chain's head under it) and their feed events
(``integrations.events``). No write takes a lock wider than the people it is about: neither
the ledger nor the feed has a group-wide counter, so writes about different people of one
company never wait for each other. An operation on many people locks them all up front with
``subjects``, in id order, so that two such operations wait for each other in the same order
and never deadlock.

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


def _held() -> dict:
    return db.session.info.setdefault(KEY, {"subjects": set()})


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


@event.listens_for(Session, "after_transaction_end")
def _released(session: Session, transaction) -> None:
    """Commit or rollback of the outermost transaction releases every row lock."""
    if transaction.parent is None:
        session.info.pop(KEY, None)
