"""Each process keeps the people's keys it unwrapped for PORTAL_KEY_CACHE_SECONDS at most: a
person erased by another app server is unreadable here too once that time has passed."""

import pytest
from sqlalchemy import LargeBinary, select, type_coerce

from portal import create_app
from portal.core.consent.changes import Origin
from portal.core.kernel import subject_keys
from portal.core.kernel.crypto import KeyMissing, keys
from portal.core.people import erasure, profile
from portal.core.people.models.profile import ProfileField
from portal.extensions import db
from tests.factories import PARIS, member

ADDRESS = "elsewhere@example.com"


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(subject_keys.time, "monotonic", lambda: now[0])
    return now


@pytest.fixture
def other_server(app):
    """A second app on the same database and key store: another gunicorn worker or server."""
    other = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "PORTAL_KEYS_URL": app.config["PORTAL_KEYS_URL"],
        }
    )
    yield other
    with other.app_context():
        db.engine.dispose()
        subject_keys.store().engine.dispose()


def _postal_copy(person) -> bytes:
    """The stored bytes of the person's address, as a backup or a dead row version keeps them."""
    query = select(type_coerce(ProfileField.value, LargeBinary)).where(
        ProfileField.subject_id == person.id, ProfileField.name == profile.POSTAL
    )
    return bytes(db.session.scalar(query))


def _read_there(server, copy: bytes):
    with server.app_context():
        return keys().decrypt(copy)


def test_an_erasure_elsewhere_makes_reads_here_fail_once_the_cache_time_has_passed(
    app, demo, other_server, clock
):
    person = member(ADDRESS, postal=PARIS)
    copy = _postal_copy(person)
    assert _read_there(other_server, copy) == PARIS  # the other server unwraps their key
    erasure.erase(person, "subject", Origin(source="preference_centre", actor="subject"))
    with pytest.raises(KeyMissing):  # here, at once
        keys().decrypt(copy)

    clock[0] += app.config["PORTAL_KEY_CACHE_SECONDS"] - 1
    assert _read_there(other_server, copy) == PARIS  # still held there, for a moment
    clock[0] += 2
    with pytest.raises(KeyMissing):
        _read_there(other_server, copy)


def test_with_no_cache_time_every_read_asks_the_key_store(app, demo, other_server, clock):
    with other_server.app_context():
        subject_keys.store().cache_seconds = 0
    person = member(ADDRESS, postal=PARIS)
    copy = _postal_copy(person)
    assert _read_there(other_server, copy) == PARIS
    erasure.erase(person, "subject", Origin(source="preference_centre", actor="subject"))
    with pytest.raises(KeyMissing):
        _read_there(other_server, copy)


def test_a_key_made_in_a_long_transaction_outlives_the_cache_time(app, demo, clock):
    """A new person's key is in the store only when their transaction commits: however long
    that takes (a large import), it is not forgotten before."""
    ref = subject_keys.new_key(db.session)
    clock[0] += 10 * app.config["PORTAL_KEY_CACHE_SECONDS"]
    sealed = subject_keys.seal(ref, "QzvxLongImport")
    db.session.commit()
    assert keys().decrypt(bytes(sealed)) == "QzvxLongImport"
    assert subject_keys.store().existing([ref]) == {ref}
