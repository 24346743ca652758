"""Give people made before per-person keys a key of their own, and move their data under it.

Run once after the upgrade that brought per-person keys (`flask keys per-person`), while the
portal serves: a batch of people per transaction, each batch taking the people's locks, so a
change to one of them meanwhile waits for its batch and loses nothing. Until a person is
moved, their data stays readable under the portal's data key, as before.

Ledger entries written before keep their chain: their digest was made from the clear salt, IP
and user agent, so those move into the personal part with a mark saying the digest is of the
old kind. Their evidence stays as it was written (the chain covers it).

Passkey names and API clients' external ids were kept in clear even for people with a key;
those move too (external ids get their keyed hash then), for people with a key or without.
"""

import json

from sqlalchemy import func, select, union, update

from portal.core.consent.models import LedgerEntry, SignupRequest
from portal.core.integrations import external_ids
from portal.core.integrations.models.api import ExternalId
from portal.core.integrations.models.event import Event
from portal.core.kernel import subject_keys
from portal.core.mail.models import AddressRequest, OutboxMessage
from portal.core.people import locks
from portal.core.people.models.passkey import Passkey
from portal.core.people.models.profile import EmailChange, ProfileField
from portal.core.people.models.subject import Subject
from portal.extensions import db

# (model, encrypted column) rows that name their person by subject_id.
_OWNED = [
    (ProfileField, "value"),
    (EmailChange, "new_email"),
    (OutboxMessage, "content"),
    (AddressRequest, "content"),
    (Event, "personal"),
]


def _in_clear():
    """People with something still in clear: a passkey name or an external id."""
    return union(
        select(Passkey.subject_id).where(Passkey.plain_name.is_not(None)),
        select(ExternalId.subject_id).where(ExternalId.plain_value.is_not(None)),
    ).subquery()


def waiting() -> int:
    """People without a key of their own yet, or with a passkey name or external id still in
    clear."""
    keyless = select(Subject.id).where(Subject.key_ref.is_(None))
    cleared = select(_in_clear().c[0])
    # Counted by the database: loading every id would not do at tens of millions of people.
    return db.session.scalar(select(func.count()).select_from(union(keyless, cleared).subquery()))


def _move_passkey_names(subject_ids: list[int], refs: dict[int, str | None]) -> None:
    """Passkey names kept in clear (before they went under the person's key)."""
    rows = db.session.execute(
        select(Passkey.id, Passkey.subject_id, Passkey.plain_name).where(
            Passkey.subject_id.in_(subject_ids), Passkey.plain_name.is_not(None)
        )
    ).all()
    for row_id, subject_id, name in rows:
        db.session.execute(
            update(Passkey)
            .where(Passkey.id == row_id)
            .values(label=subject_keys.seal(refs[subject_id], name), plain_name=None)
        )


def _move_external_ids(subject_ids: list[int], refs: dict[int, str | None]) -> None:
    """External ids kept in clear: hashed for the lookup, the value under the person's key."""
    rows = db.session.execute(
        select(
            ExternalId.id, ExternalId.client_id, ExternalId.subject_id, ExternalId.plain_value
        ).where(ExternalId.subject_id.in_(subject_ids), ExternalId.plain_value.is_not(None))
    ).all()
    for row_id, client_id, subject_id, value in rows:
        db.session.execute(
            update(ExternalId)
            .where(ExternalId.id == row_id)
            .values(
                value_hash=external_ids.value_hash(client_id, value),
                sealed=subject_keys.seal(refs[subject_id], value),
                plain_value=None,
            )
        )


def _move(subject_ids: list[int], refs: dict[int, str]) -> None:
    for model, name in _OWNED:
        column = getattr(model, name)
        rows = db.session.execute(
            select(model.id, model.subject_id, column).where(
                model.subject_id.in_(subject_ids), column.is_not(None)
            )
        ).all()
        for row_id, subject_id, value in rows:
            sealed = subject_keys.seal(refs[subject_id], value)
            db.session.execute(update(model).where(model.id == row_id).values({name: sealed}))
    _move_passkey_names(subject_ids, refs)
    _move_external_ids(subject_ids, refs)
    pending = db.session.execute(
        select(
            SignupRequest.id, SignupRequest.subject_id, SignupRequest.ip, SignupRequest.user_agent
        ).where(SignupRequest.subject_id.in_(subject_ids), SignupRequest.personal.is_(None))
    ).all()
    for row_id, subject_id, ip, user_agent in pending:
        part = json.dumps({"ip": ip, "user_agent": user_agent})
        db.session.execute(
            update(SignupRequest)
            .where(SignupRequest.id == row_id)
            .values(personal=subject_keys.seal(refs[subject_id], part), ip=None, user_agent=None)
        )
    entries = db.session.execute(
        select(
            LedgerEntry.id,
            LedgerEntry.subject_id,
            LedgerEntry.personal_salt,
            LedgerEntry.ip,
            LedgerEntry.user_agent,
        ).where(LedgerEntry.subject_id.in_(subject_ids), LedgerEntry.personal_salt.is_not(None))
    ).all()
    for row_id, subject_id, salt, ip, user_agent in entries:
        # "v": 1 -- the digest is the old one, of (salt, subject, ip, user agent).
        part = {"salt": salt, "ip": ip, "user_agent": user_agent, "evidence": None, "v": 1}
        db.session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.id == row_id)
            .values(
                personal=subject_keys.seal(refs[subject_id], json.dumps(part)),
                personal_salt=None,
                ip=None,
                user_agent=None,
            )
        )


def give_keys(batch: int = 200, progress=None) -> int:
    """Give every person without a key one and move their rows under it; returns how many."""
    done = 0
    while True:
        ids = db.session.scalars(
            select(Subject.id).where(Subject.key_ref.is_(None)).order_by(Subject.id).limit(batch)
        ).all()
        if not ids:
            return done + _move_clear_values(batch)
        locks.subjects(ids)
        subjects = db.session.scalars(
            select(Subject).where(Subject.id.in_(ids), Subject.key_ref.is_(None))
        ).all()
        refs = {}
        for subject in subjects:
            refs[subject.id] = ref = subject_keys.new_key(db.session)
            db.session.execute(
                update(Subject)
                .where(Subject.id == subject.id)
                .values(key_ref=ref, email=subject_keys.seal(ref, subject.email))
            )
        _move(list(refs), refs)
        db.session.commit()
        done += len(refs)
        if progress:
            progress(done)


def _move_clear_values(batch: int) -> int:
    """Move the passkey names and external ids still in clear of people who already have a
    key; returns how many people had some."""
    done = 0
    in_clear = _in_clear()
    while True:
        ids = db.session.scalars(select(in_clear.c[0]).order_by(in_clear.c[0]).limit(batch)).all()
        if not ids:
            return done
        locks.subjects(ids)
        query = select(Subject.id, Subject.key_ref).where(Subject.id.in_(ids))
        refs = {subject_id: ref for subject_id, ref in db.session.execute(query)}
        _move_passkey_names(ids, refs)
        _move_external_ids(ids, refs)
        db.session.commit()
        done += len(ids)
