"""The feed's order where transactions commit in any order (PostgreSQL, several servers).

No lock numbers events any more: each carries its transaction's id, and a reader gets only
events below its snapshot's horizon. Each race is played out step by step in one thread: an
app context is a session of its own, so a transaction is left open, another one commits past
it, a client reads in between, and the first commits last.
"""

import pytest
import sqlalchemy as sa

from portal.core.integrations import events
from portal.core.integrations.models.event import CONSENT_CHANGED
from portal.extensions import db
from tests.api.test_feed import read_all
from tests.factories import member


@pytest.fixture(autouse=True)
def postgresql_only(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: id order is commit order there")


def _change(person, state: str) -> None:
    """One consent event about ``person`` in the transaction of the current app context."""
    payload = {"subject_id": person.id, "state": state}
    events.emit(person.group_id, CONSENT_CHANGED, payload, subject_id=person.id)


def _states(seen) -> list[tuple[int, str]]:
    return [(e["data"]["subject_id"], e["data"]["state"]) for e in seen]


def test_an_event_committed_after_a_later_one_is_neither_missed_nor_repeated(app, api):
    ada, bob = member("ada@example.org"), member("bob@example.org")
    _, cursor = read_all(api, limit=100)  # the feed as it is: their sign-ups

    first = app.app_context()
    first.push()
    _change(ada, "first")  # written first: the smaller transaction id and event id
    second = app.app_context()
    second.push()
    _change(bob, "second")
    db.session.commit()  # ... but committed first
    second.pop()

    between = api.get(f"/events?after={cursor}&limit=100").json
    # The later event waits for the earlier transaction: handing it out now would move the
    # client's cursor past the event still being written.
    assert between["events"] == [] and between["has_more"] is False
    cursor = between["next_cursor"]

    db.session.commit()  # the first transaction ends
    first.pop()
    seen, _ = read_all(api, cursor, limit=100)
    assert _states(seen) == [(ada.id, "first"), (bob.id, "second")]


def test_a_reader_resuming_mid_way_gets_every_event_once(app, api):
    people = [member(f"p{n}@example.org") for n in range(4)]
    _, cursor = read_all(api, limit=100)
    contexts = []
    for person in people:  # four transactions open at once, in id order
        contexts.append(app.app_context())
        contexts[-1].push()
        _change(person, "changed")
    seen = []
    for context in reversed(contexts):  # committed from the last to the first
        db.session.commit()
        context.pop()
        page = api.get(f"/events?after={cursor}&limit=1").json
        seen += page["events"]
        cursor = page["next_cursor"]
    rest, _ = read_all(api, cursor, limit=1)
    assert [e["data"]["subject_id"] for e in seen + rest] == [p.id for p in people]


def test_one_persons_events_keep_the_order_of_their_changes(app, api):
    """A transaction may hold its id before another one changes the same person and commits:
    the person's next event still comes after, as the change did."""
    ada, bob = member("ada@example.org"), member("bob@example.org")
    _, cursor = read_all(api, limit=100)

    older = app.app_context()
    older.push()
    _change(bob, "older transaction")  # takes its transaction id now
    newer = app.app_context()
    newer.push()
    _change(ada, "withdrawn")
    db.session.commit()
    newer.pop()
    _change(ada, "granted again")  # ada's lock is free again: this change comes second
    db.session.commit()
    older.pop()

    seen, _ = read_all(api, cursor, limit=100)
    assert [state for who, state in _states(seen) if who == ada.id] == [
        "withdrawn",
        "granted again",
    ]
    assert len(seen) == 3


def test_only_transactions_of_this_database_hold_the_feed_back(app, api):
    """Transaction ids are shared by every database of the server; another database's writer
    cannot write events here, so it holds nothing back. One of this database does."""
    ada = member("ada@example.org")
    _, cursor = read_all(api, limit=100)
    elsewhere = sa.create_engine(db.engine.url.set(database="postgres"))
    with elsewhere.connect() as other:
        other.execute(sa.text("SELECT pg_current_xact_id()"))  # a writer there, left open
        _change(ada, "seen at once")
        db.session.commit()
        seen, cursor = read_all(api, cursor, limit=100)
        assert _states(seen) == [(ada.id, "seen at once")]
    elsewhere.dispose()

    open_here = app.app_context()
    open_here.push()
    db.session.execute(sa.text("SELECT pg_current_xact_id()"))  # a writer here, left open
    with app.app_context():
        _change(ada, "after the open one")
        db.session.commit()
    assert api.get(f"/events?after={cursor}").json["events"] == []
    db.session.commit()
    open_here.pop()
    seen, _ = read_all(api, cursor, limit=100)
    assert _states(seen) == [(ada.id, "after the open one")]
