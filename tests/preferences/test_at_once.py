"""Two windows (or two servers) changing the same consent at the same moment.

Each change takes the person's lock before it reads what is stored, so the second one sees
the first's result: one ledger row and one "changed meanwhile", never two rows or an error.
The tests hold both changes at the point where each has read what is stored; without the
lock both would read the same state and both would write.
"""

import pytest
from sqlalchemy import select

from portal.core.consent import changes as consent
from portal.core.consent import preferences
from portal.core.consent.models import GRANT, WITHDRAWAL, LedgerEntry
from portal.core.people.models.subject import Subject
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


@pytest.mark.parametrize(
    ("key", "wanted", "action", "rows"),
    [
        ("events", True, GRANT, 2),  # turned on, never held: news when joining, events once
        ("news", False, WITHDRAWAL, 1),  # turned off
    ],
)
def test_the_same_change_in_two_windows_at_once_is_made_once(
    side_by_side, key, wanted, action, rows
):
    subject_id = member("both@example.com", keys=("news",)).id
    topic_id = topic(key).id
    results, errors = side_by_side(lambda: _apply(subject_id, topic_id, wanted=wanted))
    assert errors == []
    assert sorted(len(outcome.changed) for outcome in results) == [0, 1]
    # The second is told it changed meanwhile, and what it is now.
    assert [outcome.conflicts for outcome in results if not outcome.changed] == [
        {(topic_id, "email"): wanted}
    ]
    assert _rows(subject_id, action) == rows
