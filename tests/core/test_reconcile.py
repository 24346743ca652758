"""A backup of the data restored after an erasure: `flask erasures reconcile` finishes it."""

import sqlite3
import subprocess
import uuid
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import create_app
from portal.core.consent import audit
from portal.core.consent.changes import Origin
from portal.core.mail.models import OutboxMessage
from portal.core.people import erasure, profile, subjects
from portal.core.people.models.erasure import ErasureRecord
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.factories import PARIS, member


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def _backup_restored(database_url: str, tmp_path):
    """Take a backup of the data now; the block's ``restore()`` gives the URL of a fresh
    database with that backup restored in it (dropped afterwards)."""
    made = []
    if database_url.startswith("postgresql"):
        dump = tmp_path / "portal.dump"
        subprocess.run(["pg_dump", "-Fc", "-f", str(dump), _libpq(database_url)], check=True)

        def restore() -> str:
            name = f"restored_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            url = database_url.rsplit("/", 1)[0] + "/" + name
            made.append(name)
            subprocess.run(["pg_restore", "--no-owner", "-d", _libpq(url), str(dump)], check=True)
            return url

    else:
        copy = tmp_path / "backup.sqlite3"
        source = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        target = sqlite3.connect(copy)
        source.backup(target)
        source.close()
        target.close()

        def restore() -> str:
            return f"sqlite:///{copy}"

    try:
        yield restore
    finally:
        if made:
            admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                for name in made:
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def outbox(subject_id=None) -> int:
    query = select(sa.func.count()).select_from(OutboxMessage)
    if subject_id is not None:
        query = query.where(OutboxMessage.subject_id == subject_id)
    return db.session.scalar(query)


def test_a_restored_backup_brings_back_no_one_erased_since(app, demo, tmp_path):
    gone = member("gone@example.com", keys=("news", "offers"), postal=PARIS)
    member("kept@example.com", postal=PARIS)
    group_id, gone_id, gone_hash = demo.id, gone.id, gone.email_hash
    with _backup_restored(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path) as restore:
        erasure.erase(gone, "subject", Origin(source="preference_centre", actor="subject"))
        db.session.remove()
        restored = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": restore(),
                "PORTAL_KEYS_URL": app.config["PORTAL_KEYS_URL"],  # the key store as it is now
            }
        )
        with restored.app_context():
            # The backup holds the erased person's rows, but their key is gone: unreadable.
            back = db.session.get(Subject, gone_id)
            assert back is not None and back.email is None
            queued, queued_for_gone = outbox(), outbox(gone_id)
            result = restored.test_cli_runner().invoke(args=["erasures", "reconcile"])
            assert result.exception is None, repr(result.exception)
            assert result.output == (
                "1 people erased whose key was missing from the key store\n"
            ), result.output
            assert db.session.get(Subject, gone_id) is None
            assert subjects.find(group_id, "gone@example.com") is None
            assert erasure.is_suppressed(group_id, gone_hash)
            record = db.session.scalar(
                select(ErasureRecord).where(ErasureRecord.subject_ref == gone_id)
            )
            assert record.requested_by == "reconcile"
            assert audit.verify(group_id).breaks == []
            # No mail: the erased person's queued mails went with them, and none was added.
            assert outbox() == queued - queued_for_gone
            # Everyone else reads back completely.
            kept = subjects.find(group_id, "kept@example.com")
            assert kept.email == "kept@example.com"
            assert profile.fields_of(kept)[profile.POSTAL].value == PARIS
            # Running it again finds no one left.
            again = restored.test_cli_runner().invoke(args=["erasures", "reconcile"])
            assert again.output.startswith("0 people erased")
            db.session.remove()
            db.engine.dispose()


def test_a_crash_between_the_key_store_and_the_data_is_finished_by_reconcile(app, demo, runner):
    """The key store commits first: if the data's commit then fails (a crash, a lost
    connection), the person's rows are still there but unreadable, and reconcile erases them."""
    gone = member("halfway@example.com", postal=PARIS)
    gone_id, gone_hash, group_id = gone.id, gone.email_hash, demo.id

    def crash(session):
        raise ConnectionError("the database went away")

    sa.event.listen(Session, "before_commit", crash)
    try:
        erasure.erase(gone, "subject", Origin(source="preference_centre", actor="subject"))
    except ConnectionError:
        pass
    finally:
        sa.event.remove(Session, "before_commit", crash)
    db.session.remove()
    back = db.session.get(Subject, gone_id)
    assert back is not None and back.email is None  # rows kept, key gone: unreadable
    result = runner.invoke(args=["erasures", "reconcile"])
    assert result.output == "1 people erased whose key was missing from the key store\n"
    db.session.remove()
    assert db.session.get(Subject, gone_id) is None
    assert erasure.is_suppressed(group_id, gone_hash)
    assert audit.verify(group_id).breaks == []
