"""Each person's data under a key of their own, kept apart from the data; erasure deletes it."""

import json

import pytest
from sqlalchemy import LargeBinary, select, text, type_coerce, update

from portal import create_app
from portal.core.consent import audit, ledger
from portal.core.consent.changes import Origin
from portal.core.consent.models import LedgerEntry
from portal.core.kernel import subject_keys
from portal.core.kernel.crypto import KeyMissing, keys, personal_ref
from portal.core.people import erasure, key_migration, profile, subjects
from portal.core.people.models.profile import ProfileField
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.factories import PARIS, legacy_anchor, member

OTHER_KEY = "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktMDE="


def _raw(model, column, row_id) -> bytes:
    value = db.session.scalar(
        select(type_coerce(getattr(model, column), LargeBinary)).where(model.id == row_id)
    )
    return bytes(value)


def test_a_persons_data_is_under_their_own_key_in_the_key_store(app, demo):
    person = member("own@example.com", postal=PARIS)
    other = member("other@example.com")
    assert person.key_ref and other.key_ref and person.key_ref != other.key_ref
    assert personal_ref(_raw(Subject, "email", person.id)) == person.key_ref
    field = db.session.scalar(select(ProfileField).where(ProfileField.subject_id == person.id))
    assert personal_ref(_raw(ProfileField, "value", field.id)) == person.key_ref
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.subject_id == person.id))
    assert personal_ref(_raw(LedgerEntry, "personal", entry.id)) == person.key_ref
    assert ledger.personal_part(entry)["ip"] == "192.0.2.0"
    # The key store holds references and wrapped keys only: nothing names a subject.
    assert subject_keys.store().existing([person.key_ref, other.key_ref]) == {
        person.key_ref,
        other.key_ref,
    }
    db.session.expire_all()
    assert subjects.find(demo.id, "own@example.com").email == "own@example.com"


def test_erasure_deletes_the_key_so_a_copy_of_the_rows_no_longer_decrypts(app, demo):
    person = member("copied@example.com", postal=PARIS)
    ref = person.key_ref
    field = db.session.scalar(select(ProfileField).where(ProfileField.subject_id == person.id))
    copy = _raw(ProfileField, "value", field.id)  # as a backup or a dead row version keeps it
    assert keys().decrypt(copy) == PARIS
    erasure.erase(person, "subject", Origin(source="preference_centre", actor="subject"))
    assert subject_keys.store().existing([ref]) == set()
    subject_keys.store().forget_all()  # a fresh process: nothing remembered
    with pytest.raises(KeyMissing):
        keys().decrypt(copy)
    assert audit.verify(demo.id).breaks == []


def test_a_wrong_data_or_hash_key_refuses_to_start_naming_it(app, demo):
    member("check@example.com")
    stores = {
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "PORTAL_KEYS_URL": app.config["PORTAL_KEYS_URL"],
    }
    with pytest.raises(subject_keys.WrongKey, match="PORTAL_DATA_KEY is not the key"):
        create_app({**stores, "PORTAL_DATA_KEY": OTHER_KEY})
    with pytest.raises(subject_keys.WrongKey, match="PORTAL_HASH_KEY is not the key"):
        create_app({**stores, "PORTAL_HASH_KEY": OTHER_KEY})
    # The right keys start, and an earlier key among the old ones is accepted (a rotation).
    create_app(
        {
            **stores,
            "PORTAL_DATA_KEY": OTHER_KEY,
            "PORTAL_OLD_DATA_KEYS": [app.config["PORTAL_DATA_KEY"]],
        }
    )


def _as_before_per_person_keys(group_id: int) -> None:
    """Put every person's rows back the way the portal wrote them before per-person keys:
    no key reference, values under the data key, the ledger's salt, IP and user agent in
    clear with the old digest, and the chain hashed again over that."""
    data_key = keys()
    for subject_id, email in db.session.execute(select(Subject.id, Subject.email)).all():
        db.session.execute(
            update(Subject)
            .where(Subject.id == subject_id)
            .values(key_ref=None, email=type_coerce(data_key.encrypt(email), LargeBinary))
        )
    for row_id, value in db.session.execute(select(ProfileField.id, ProfileField.value)).all():
        db.session.execute(
            update(ProfileField)
            .where(ProfileField.id == row_id)
            .values(value=type_coerce(data_key.encrypt(value), LargeBinary))
        )
    head, seq = "", 0
    for entry in db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.group_id == group_id).order_by(LedgerEntry.id)
    ).all():
        part = json.loads(entry.personal)
        seq += 1  # in the group's single chain, as before per-person chains too
        entry.prev_hash, entry.chain, entry.chain_seq, entry.seq = head, None, None, seq
        db.session.execute(
            update(LedgerEntry).where(LedgerEntry.id == entry.id).values(personal=None)
        )
        entry.personal_salt, entry.ip, entry.user_agent = (
            part["salt"],
            part["ip"],
            part["user_agent"],
        )
        entry.personal_digest = ledger.personal_digest(
            part["salt"], entry.subject_id, part["ip"], part["user_agent"]
        )
        entry.hash = head = ledger.entry_hash(entry)
        db.session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.id == entry.id)
            .values(
                personal_salt=entry.personal_salt,
                ip=entry.ip,
                user_agent=entry.user_agent,
                personal_digest=entry.personal_digest,
                prev_hash=entry.prev_hash,
                hash=entry.hash,
                chain=None,
                chain_seq=None,
                seq=seq,
            )
        )
        db.session.expunge(entry)
    legacy_anchor(group_id, seq, head)
    db.session.commit()


def test_flask_keys_per_person_moves_existing_people_under_their_own_key(app, demo, runner):
    """The data migration of per-person keys: people made before it get a key and their rows
    move under it; the ledger (hashed the old way) still verifies; nothing reads differently."""
    person = member("before@example.com", postal=PARIS)
    person_id, group_id = person.id, demo.id
    _as_before_per_person_keys(group_id)
    assert audit.verify(group_id).breaks == []
    assert key_migration.waiting() == 1
    legacy = db.session.execute(text("SELECT ip FROM ledger_entry")).scalars().all()
    assert set(legacy) == {"192.0.2.0"}  # in clear, as before

    result = runner.invoke(args=["keys", "per-person", "--batch", "1"])
    assert "1 people given a key of their own; 0 left" in result.output, result.output

    db.session.remove()  # the command ran in a context (and session) of its own
    person = db.session.get(Subject, person_id)
    assert person.key_ref and personal_ref(_raw(Subject, "email", person.id)) == person.key_ref
    assert person.email == "before@example.com"
    assert profile.fields_of(person)[profile.POSTAL].value == PARIS
    assert db.session.execute(
        text("SELECT ip, user_agent, personal_salt FROM ledger_entry")
    ).all() == [(None, None, None)] * len(legacy)
    entry = db.session.scalar(select(LedgerEntry))
    assert ledger.personal_part(entry)["ip"] == "192.0.2.0"
    assert audit.verify(group_id).breaks == []
    # Erased afterwards like anyone: the key goes, the ledger still verifies.
    person = db.session.get(Subject, person_id)  # verify let go of every row it read
    erasure.erase(person, "subject", Origin(source="preference_centre", actor="subject"))
    assert audit.verify(group_id).breaks == []
