"""Which key a person's data goes under: the reference of their own key (``Subject.key_ref``)."""

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from portal.core.kernel import subject_keys
from portal.core.people.models.subject import Subject
from portal.extensions import db

_REFS = "portal.keys.refs"


def ref_of(subject_id: int | None, connection=None) -> str | None:
    """The key reference of subject ``subject_id`` (None: no subject, or one without a key yet,
    whose data goes under the data key). Remembered for the transaction."""
    if subject_id is None:
        return None
    refs = db.session.info.setdefault(_REFS, {})
    if subject_id not in refs:
        query = select(Subject.key_ref).where(Subject.id == subject_id)
        ref = (connection or db.session).scalar(query)
        if ref is None:
            return None
        refs[subject_id] = ref
    return refs[subject_id]


def refs_of(subject_ids) -> dict[int, str | None]:
    """``ref_of`` for many people at once (a query per thousand not remembered yet). What it
    reads is not remembered for the transaction: a bulk write (an import of 100,000 people, a
    batch at a time) would hold every one until its commit."""
    remembered = db.session.info.get(_REFS) or {}
    found = {i: remembered[i] for i in subject_ids if i in remembered}
    missing = [i for i in set(subject_ids) if i is not None and i not in found]
    for start in range(0, len(missing), 1000):
        chunk = missing[start : start + 1000]
        found.update(
            db.session.execute(
                select(Subject.id, Subject.key_ref).where(Subject.id.in_(chunk))
            ).all()
        )
    return {i: found.get(i) for i in subject_ids}


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_refs(session):
    session.info.pop(_REFS, None)


def seal_for(subject_id: int | None, plaintext: str | None):
    """``plaintext`` under the person's own key (the data key for no person)."""
    return subject_keys.seal(ref_of(subject_id), plaintext)


def by_subject_id(target, connection):
    """For ``subject_keys.personal_columns``: a row that names its person by ``subject_id``."""
    return ref_of(target.subject_id, connection)
