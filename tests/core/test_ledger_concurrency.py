"""The ledger under several servers at once, on PostgreSQL: changes to different people of one
site group do not queue behind each other, and the sealer never leaves an entry behind."""

import threading

import pytest
from sqlalchemy import select

from portal.core.consent import anchors, audit, ledger, preferences
from portal.core.consent.models import GRANT, LedgerEntry
from portal.core.kernel import clock
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests import actions
from tests.factories import ORIGIN, member, topic


@pytest.fixture(autouse=True)
def postgresql_only(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("several servers share PostgreSQL; SQLite has one writer at a time")


def _grant(subject_id: int, key: str, finished: list):
    def work():
        subject = db.session.get(Subject, subject_id)
        change = preferences.Change(topic(key).id, "email", wanted=True, shown=False)
        result = preferences.apply(subject, [change], {}, "en", ORIGIN)
        finished.append(subject_id)
        return result

    return work


def _grants(subject_id: int) -> int:
    return len(
        db.session.scalars(
            select(LedgerEntry.id).where(
                LedgerEntry.subject_id == subject_id, LedgerEntry.action == GRANT
            )
        ).all()
    )


def test_changes_to_two_people_of_one_group_do_not_wait_for_each_other(
    app, demo, smtp, monkeypatch
):
    """Ann's change is held with her chain's head read, her lock held and nothing committed;
    Bob's change, same group, writes its ledger row and commits meanwhile. With one chain
    per group, Bob waited for Ann's commit (the group's row lock) and finished second."""
    ann = member("ann@example.com", keys=("journal",)).id
    bob = member("bob@example.com", keys=("journal",)).id
    finished = []

    results, errors = actions.held_at(
        app,
        monkeypatch,
        ledger,
        "_heads",
        _grant(ann, "events", finished),
        _grant(bob, "events", finished),
    )
    assert errors == []
    assert finished == [bob, ann]
    assert (_grants(ann), _grants(bob)) == (2, 2)
    assert audit.verify(demo.id).breaks == []


def test_the_sealer_never_skips_an_entry_that_commits_after_a_later_one(app, demo):
    """Ids are taken at insert: Ann's entry takes its id first and commits last. The sealer
    runs between the two commits, seals Bob's, and seals Ann's on its next run."""
    ann = member("ann@example.com").id
    bob = member("bob@example.com").id
    anchors.seal()
    inserted, go, errors = threading.Event(), threading.Event(), []

    def slow():
        with app.app_context():
            try:
                ledger.append(
                    demo.id,
                    subject_id=ann,
                    brand_id=None,
                    topic_id=None,
                    channel=None,
                    action="confirmed",
                    source="api",
                    occurred_at=clock.now(),
                    actor="api:slow",
                )
                db.session.flush()  # the row is in, its id taken, not committed
                inserted.set()
                go.wait(30)
                db.session.commit()
            except Exception as error:  # noqa: BLE001 - asserted on below
                errors.append(error)
            finally:
                inserted.set()
                db.session.remove()

    thread = threading.Thread(target=slow)
    thread.start()
    assert inserted.wait(30)
    assert preferences.apply(
        db.session.get(Subject, bob),
        [preferences.Change(topic("events").id, "email", wanted=True, shown=False)],
        {},
        "en",
        ORIGIN,
    )
    [first] = anchors.seal()
    go.set()
    thread.join(30)
    assert errors == []
    [late] = db.session.scalars(select(LedgerEntry).where(LedgerEntry.actor == "api:slow")).all()
    [bobs] = db.session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.subject_id == bob, LedgerEntry.action == GRANT)
        .order_by(LedgerEntry.id.desc())
        .limit(1)
    ).all()
    assert late.id < bobs.id  # the lower id committed last
    assert (first.count, first.first_entry) == (1, bobs.id)
    [second] = anchors.seal()
    assert (second.count, second.first_entry, second.prev_hash) == (1, late.id, first.hash)
    db.session.expire_all()
    assert db.session.get(LedgerEntry, late.id).anchor_id == second.id
    assert audit.verify(demo.id).breaks == []
