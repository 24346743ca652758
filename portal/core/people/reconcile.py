"""After a restore: erase everyone whose key is no longer in the key store.

A backup of the data brings back people erased since it was taken, but not their keys: the key
store (backed up apart, see the README) no longer has them, so their rows cannot be read. This
finishes their erasure: rows deleted, the keyed hash of the address on the suppression list,
the ledger anonymised, and no mail (their address cannot be read, and must not be). It also
finishes an erasure interrupted between the key store's commit and the data's.
"""

from sqlalchemy import select

from portal.core.consent.changes import Origin
from portal.core.kernel import subject_keys
from portal.core.kernel.transaction import commit_session
from portal.core.people import erasure, locks
from portal.core.people.models.subject import Subject
from portal.extensions import db

ACTOR = "reconcile"  # requested_by of the disposal records it writes


def missing(batch: int = 500) -> list[int]:
    """Ids of the subjects whose key is not in the key store (people without a key reference
    yet, before `flask keys per-person`, are not missing one)."""
    found, after = [], 0
    while True:
        rows = db.session.execute(
            select(Subject.id, Subject.key_ref)
            .where(Subject.id > after, Subject.key_ref.is_not(None))
            .order_by(Subject.id)
            .limit(batch)
        ).all()
        if not rows:
            return found
        kept = subject_keys.store().existing([ref for _, ref in rows])
        found += [subject_id for subject_id, ref in rows if ref not in kept]
        after = rows[-1][0]


def reconcile() -> int:
    """Erase completely every subject whose key is missing, one transaction each; how many."""
    origin = Origin(source="admin", actor=ACTOR)
    done = 0
    for subject_id in missing():
        with commit_session():
            locks.subjects([subject_id])
            subject = db.session.get(Subject, subject_id)
            if subject is None:
                continue
            # New rows written while erasing (the withdrawals' ledger entries) need a key to
            # be written under: a throwaway one, deleted with the rest in this transaction.
            subject.key_ref = subject_keys.new_key(db.session)
            db.session.flush()
            erasure.erase_in_transaction(
                subject, ACTOR, origin, "key missing after restore", notify=False
            )
        done += 1
    db.session.remove()
    return done
