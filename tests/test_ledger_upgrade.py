"""The upgrade to per-person ledger chains, on a database written by the version before it:
the old group chain keeps every hash, is recorded as the group's first anchor, verifies
against it, gets sealed like the new rows, and a row cut from it is named."""

import json
import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from portal import create_app
from portal.core.consent import anchors, audit, ledger
from portal.core.consent.models import LedgerAnchor, LedgerEntry
from portal.core.kernel import clock
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.conftest import BACKENDS

BEFORE = "7c3e1f0a2b9d"  # the revision before per-person chains
OLD_COLUMNS = [
    c.key
    for c in LedgerEntry.__table__.columns
    if c.key not in ("id", "chain", "chain_seq", "anchor_id")
]


@pytest.fixture(params=BACKENDS)
def old_app(request, tmp_path):
    """An app on a database of its own, migrated only up to ``BEFORE``.

    On PostgreSQL, a schema of its own in the run's database rather than a database of its
    own: dropping a database makes the server checkpoint, which on a server busy with other
    work took over a minute."""
    schema = None
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_url")
        schema = f"upgrade_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = server
    else:
        url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "PORTAL_KEYS_URL": f"sqlite:///{tmp_path / 'k.db'}"}
    )
    with app.app_context():
        if schema is not None:  # every connection in the schema, and only there

            @sa.event.listens_for(db.engine, "connect")
            def _in_schema(connection, record):
                with connection.cursor() as cursor:
                    cursor.execute(f'SET search_path TO "{schema}"')
                connection.commit()

            db.engine.dispose()
        upgrade(revision=BEFORE)
        yield app
        db.session.remove()
        db.engine.dispose()
    if schema is not None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _old_chain(group_id: int, people: list[int]) -> str:
    """Rows as the version before wrote them: one chain for the group, numbered by ``seq``."""
    head = ""
    for seq, subject_id in enumerate(people, start=1):
        row = dict.fromkeys(OLD_COLUMNS) | {
            "group_id": group_id,
            "seq": seq,
            "subject_id": subject_id,
            "action": "granted",
            "source": "import",
            "occurred_at": clock.now(),
            "actor": "import",
            "personal_salt": f"salt{seq}",
            "ip": "192.0.2.0",
            "user_agent": "UA",
            "prev_hash": head,
            "chain": None,
        }
        row["personal_digest"] = ledger.personal_digest(
            row["personal_salt"], subject_id, "192.0.2.0", "UA"
        )
        row["hash"] = head = ledger.entry_hash(SimpleNamespace(**row))
        del row["chain"]
        db.session.execute(sa.insert(LedgerEntry.__table__).values(**row))
    return head


def test_the_old_group_chain_is_kept_recorded_and_sealed(old_app):
    db.session.execute(
        sa.text(
            "INSERT INTO site_group (slug, name, default_language, ledger_seq, ledger_head, "
            "event_seq, created_at) VALUES ('old', 'Old', 'en', 0, '', 0, :now)"
        ),
        {"now": clock.now()},
    )
    group_id = db.session.scalar(sa.text("SELECT id FROM site_group"))
    people = []
    for address in ("ann@example.org", "bob@example.org"):
        person = Subject(group_id=group_id, email_hash=address, email=address, status="active")
        db.session.add(person)
        db.session.flush()
        people.append(person.id)
    ann, bob = people
    head = _old_chain(group_id, [ann, bob, ann, ann, bob])
    db.session.execute(
        sa.text("UPDATE site_group SET ledger_seq = 5, ledger_head = :h"), {"h": head}
    )
    receipts = list(db.session.scalars(sa.text("SELECT hash FROM ledger_entry ORDER BY id")))
    db.session.commit()

    upgrade()

    [legacy] = db.session.scalars(sa.select(LedgerAnchor)).all()
    assert (legacy.kind, legacy.seq, legacy.count, legacy.root) == ("legacy", 1, 5, head)
    assert (
        list(db.session.scalars(sa.select(LedgerEntry.hash).order_by(LedgerEntry.id))) == receipts
    )
    report = audit.verify(group_id)
    assert report.breaks == [] and (report.entries, report.chains, report.anchors) == (5, 1, 1)

    ledger.append(
        group_id,
        subject_id=ann,
        action="withdrawn",
        source="api",
        occurred_at=clock.now(),
        actor="api:crm",
    )
    db.session.commit()
    [sealed] = anchors.seal()
    assert (sealed.seq, sealed.count, sealed.prev_hash) == (2, 6, legacy.hash)
    report = audit.verify(group_id)
    assert report.breaks == [] and (report.entries, report.chains, report.anchors) == (6, 2, 2)
    exported = json.loads(json.dumps(anchors.export(group_id)))
    assert audit.against_file(exported, group_id).breaks == []

    db.session.execute(sa.text("DELETE FROM ledger_entry WHERE seq = 5"))
    db.session.commit()
    reasons = [str(found) for found in audit.verify(group_id).breaks]
    assert (
        "old's chain before the upgrade, entry 5: entries after this point are missing "
        "(5 recorded)" in reasons
    )
    assert any("anchor 2" in reason and "1 of its 6 entries" in reason for reason in reasons)
