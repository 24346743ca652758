"""Personal data at rest: a copy of the database alone reveals no address."""

import sqlalchemy as sa

from portal.core.people import subjects
from portal.extensions import db
from tests.actions import deliver, sign_up


def _raw_database_text() -> str:
    """Every value of every table, as the database hands it out to someone with a copy."""
    chunks = []
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            for row in connection.execute(sa.text(f'SELECT * FROM "{table.name}"')):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        chunks.append(bytes(value).decode("latin-1"))
                    else:
                        chunks.append(str(value))
    return "\n".join(chunks)


def test_no_address_in_the_database(client, demo, smtp):
    sign_up(client, "Secret.Person@Example.org")
    deliver()  # the outbox row stays, as sent
    raw = _raw_database_text().lower()
    assert "secret.person" not in raw
    assert "example.org" not in raw
    assert smtp.to("secret.person@example.org")


def test_subject_is_found_by_keyed_hash_and_reads_in_clear(client, demo):
    sign_up(client, "Found@Example.org")
    subject = subjects.find(demo.id, subjects.normalise_email(" FOUND@example.ORG "))
    assert subject is not None
    assert subject.email == "found@example.org"
    assert subject.email_hash != subjects.address_hash(demo.id + 1, "found@example.org")
