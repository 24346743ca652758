"""Two windows (or two servers) changing the same consent at the same moment.

Each change takes the person's lock before it reads what is stored, so the second one sees
the first's result: one ledger row and one "changed meanwhile", never two rows or an error.
The tests hold both changes at the point where each has read what is stored; without the
lock both would read the same state and both would write.
"""

import pytest
from sqlalchemy import select

from portal.core import consent, preferences
from portal.core.models import LedgerEntry, Subject
from portal.core.models.consent import GRANT, WITHDRAWAL
from portal.extensions import db
from tests import actions
from tests.lifecycle.factories import ORIGIN, member, topic


@pytest.fixture
def side_by_side(app, demo, monkeypatch):
    """The change in two threads, both paused once they have read the stored consents."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("several servers share PostgreSQL; SQLite serves one process")
    return actions.side_by_side(app, monkeypatch, consent, "current")


def _apply(subject_id: int, topic_id: int, wanted: bool):
    subject = db.session.get(Subject, subject_id)
    change = preferences.Change(topic_id, "email", wanted=wanted, shown=not wanted)
    return preferences.apply(subject, [change], {}, "en", ORIGIN)


def _rows(subject_id: int, action: str) -> int:
    return len(
        db.session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.subject_id == subject_id, LedgerEntry.action == action
            )
        ).all()
    )


def test_turning_on_a_new_consent_in_two_windows_at_once_grants_it_once(side_by_side):
    subject_id = member("both@example.com", keys=("news",)).id
    events = topic("events").id
    results, errors = side_by_side(lambda: _apply(subject_id, events, wanted=True))
    assert errors == []
    assert sorted(len(outcome.changed) for outcome in results) == [0, 1]
    assert [outcome.conflicts for outcome in results if not outcome.changed] == [
        {(events, "email"): True}
    ]
    assert _rows(subject_id, GRANT) == 2  # news when joining, events once


def test_turning_off_in_two_windows_at_once_withdraws_once(side_by_side):
    subject_id = member("both@example.com", keys=("news",)).id
    news = topic("news").id
    results, errors = side_by_side(lambda: _apply(subject_id, news, wanted=False))
    assert errors == []
    assert sorted(len(outcome.changed) for outcome in results) == [0, 1]
    assert _rows(subject_id, WITHDRAWAL) == 1
