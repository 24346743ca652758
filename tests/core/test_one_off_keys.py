"""What names someone before they exist or after they are gone (a stranger's sign-up, the
farewell mail, an idempotent answer, an import file) is under a one-off key of its own, deleted
when the row is used or purged: a copy of the row is then unreadable."""

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import LargeBinary, select, type_coerce

from portal.core.consent.changes import Origin
from portal.core.kernel import clock, jobs, subject_keys
from portal.core.kernel.crypto import KeyMissing, keys, personal_ref
from portal.core.kernel.models.job import Job
from portal.core.mail.models import AddressRequest, OutboxMessage
from portal.core.people import erasure
from portal.extensions import db
from tests.actions import deliver, log_in, post, sign_up
from tests.factories import brand, make_admin, member


def _copies(column, *where) -> list[bytes]:
    """The stored bytes of ``column``, as a backup or a dead row version keeps them."""
    query = select(type_coerce(column, LargeBinary)).where(column.is_not(None), *where)
    return [bytes(value) for value in db.session.scalars(query)]


def _one_off(copies: list[bytes]) -> set[str]:
    refs = {personal_ref(copy) for copy in copies}
    assert copies and None not in refs, "not under a key of its own"
    with subject_keys.store().engine.connect() as connection:  # one-off keys, not a person's
        found = set(connection.scalars(select(subject_keys.row_key.c.ref)))
    assert refs <= found
    return refs


def _unreadable(copies: list[bytes]) -> None:
    subject_keys.store().forget_all()  # a fresh process: nothing remembered
    for copy in copies:
        with pytest.raises(KeyMissing):
            keys().decrypt(copy)


def test_a_strangers_sign_up_request_is_unreadable_once_decided(client, demo, smtp):
    sign_up(client, "stranger@example.com")
    copies = _copies(AddressRequest.content)
    _one_off(copies)
    assert "stranger@example.com" in keys().decrypt(copies[0])
    deliver()  # the worker decides it: the row and its key go
    assert db.session.scalar(select(AddressRequest)) is None
    _unreadable(copies)


def test_the_farewell_mail_is_unreadable_once_delivered(app, demo, smtp):
    person = member("leaving@example.com")
    erasure.erase(person, "subject", Origin(source="preference_centre", actor="subject"))
    copies = _copies(OutboxMessage.content, OutboxMessage.subject_id.is_(None))
    _one_off(copies)
    deliver()
    assert smtp.to("leaving@example.com")  # it was sent
    _unreadable(copies)


def test_an_import_file_is_unreadable_once_imported_or_its_hold_expired(client, demo, smtp):
    log_in(client, make_admin(demo, "owner", "boss@luxe.example"))

    def held(address: str) -> str:
        csv = f"email,topic,channel,consented_at\n{address},news,email,2025-02-01T10:00:00Z\n"
        page = post(
            client,
            "/admin/import",
            {
                "brand": brand("camille").id,
                "mode": "check",
                "file": (io.BytesIO(csv.encode()), "l.csv"),
            },
            content_type="multipart/form-data",
        ).get_data(as_text=True)
        return re.search(r'name="held" value="(\d+)"', page).group(1)

    imported = held("file@example.com")
    copies = _copies(Job.payload, Job.id == int(imported))
    _one_off(copies)
    assert post(client, "/admin/import", {"mode": "run", "held": imported}).status_code == 302
    deliver()
    assert db.session.get(Job, int(imported)).payload is None
    _unreadable(copies)

    expiring = held("other@example.com")
    copies = _copies(Job.payload, Job.id == int(expiring))
    _one_off(copies)
    clock.freeze(clock.now() + timedelta(hours=25))
    assert jobs.drop_expired_holds() == 1
    _unreadable(copies)
