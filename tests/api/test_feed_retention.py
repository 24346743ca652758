"""Events and webhook deliveries are kept for a set time; a client left behind is told so."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from portal.core.integrations import retention, webhooks
from portal.core.kernel import clock, partitions
from portal.extensions import db
from tests.api.conftest import NOW, capture
from tests.api.test_feed import read_all
from tests.api.test_webhooks import receiver, register  # noqa: F401 - the fixture

LATER = NOW + timedelta(days=31)  # past EVENT_RETENTION_DAYS (30)


def grants(api, *topics, email="ada@example.org"):
    for topic in topics:
        answer = api.post("/consents", json=capture(topic=topic, email=email))
        assert answer.status_code == 200, answer.json


def test_old_events_go_and_a_cursor_from_before_them_must_start_again(api, runner):
    clock.freeze(NOW)
    grants(api, "news", "events", "offers")
    old, _ = read_all(api, limit=100)
    clock.freeze(LATER)
    grants(api, "news", email="bob@example.org")

    output = runner.invoke(args=["lifecycle", "run"]).output
    assert "events older than EVENT_RETENTION_DAYS: deleted 3" in output

    # A reader starting now gets what is kept (Bob's grant, and what the run itself did).
    kept, _ = read_all(api, limit=100)
    assert {e["created_at"][:10] for e in kept} == {LATER.date().isoformat()}
    assert "bob@example.org" not in str(kept) and len(kept) >= 1
    # A cursor before the last event deleted may have missed some: a clear 410, not a gap.
    answer = api.get(f"/events?after={old[0]['id']}")
    assert answer.status_code == 410
    assert answer.mimetype == "application/problem+json"
    assert answer.json["type"].endswith("/cursor-expired")
    assert "since" in answer.json["detail"]
    # The last one deleted lost nothing after it; starting from a moment still works.
    assert api.get(f"/events?after={old[-1]['id']}").json["events"] == kept
    assert api.get("/events?since=2001-01-01T00:00:00Z").json["events"] == kept


def test_each_run_deletes_a_bounded_batch_and_the_next_takes_the_rest(api):
    clock.freeze(NOW)
    grants(api, "news", "events", "offers")
    clock.freeze(LATER)
    assert retention.purge(batch=2) == (2, 0)
    assert retention.purge(batch=2) == (1, 0)
    assert retention.purge(batch=2) == (0, 0)
    assert read_all(api, limit=100)[0] == []


def test_a_delivery_still_owed_keeps_its_event_until_it_is_delivered(api, receiver):  # noqa: F811
    hook = register(api, receiver)  # registered, not listening yet: the delivery waits
    grants(api, "news")
    assert webhooks.deliver_all().retrying == 1
    later = clock.now() + timedelta(days=31)
    assert retention.purge(later) == (0, 0)  # owed: kept, event and delivery
    receiver.start()
    clock.freeze(clock.now() + timedelta(minutes=1))  # the retry is due (signed now)
    assert webhooks.deliver_all().sent == 1
    assert retention.purge(later) == (1, 0)  # delivered: goes with its event
    assert api.get(f"/webhooks/{hook['id']}/deliveries").json["deliveries"] == []


def test_a_delivery_log_line_goes_after_its_own_time_while_the_event_stays(
    app,
    api,
    receiver,  # noqa: F811
):
    app.config["WEBHOOK_DELIVERY_RETENTION_DAYS"] = 7
    receiver.start()
    hook = register(api, receiver)
    grants(api, "news")
    assert webhooks.deliver_all().sent == 1
    assert retention.purge(clock.now() + timedelta(days=8)) == (0, 1)
    assert api.get(f"/webhooks/{hook['id']}/deliveries").json["deliveries"] == []
    assert len(read_all(api, limit=100)[0]) == 1


def _days(table):
    """The day partitions of a table (PostgreSQL), by their first day; none on SQLite."""
    connection = db.session.connection()
    if not partitions.is_postgresql(connection):
        return set()
    found = {start.date() for _, start, _ in partitions.partitions(connection, table) if start}
    db.session.rollback()
    return found


def test_a_run_drops_whole_days_past_their_time_and_makes_the_next_days(api, runner):
    # Days after the upgrade: the days before are the table as it was (``<table>_plegacy``).
    start = partitions.day(datetime.now(UTC)) + timedelta(days=5, hours=12)
    later = start + timedelta(days=31)
    clock.freeze(start)
    grants(api, "news", "events")
    runner.invoke(args=["lifecycle", "run"])
    postgresql = partitions.is_postgresql(db.session.get_bind())
    if postgresql:  # the day is made, with the rows the default partition caught moved in
        assert start.date() in _days("event") and start.date() in _days("webhook_delivery")
        held = db.session.scalar(sa.text(f"SELECT count(*) FROM event_p{start:%Y%m%d}"))
        assert held == 2

    clock.freeze(later)
    output = runner.invoke(args=["lifecycle", "run"]).output
    assert "events older than EVENT_RETENTION_DAYS: deleted 2" in output
    kept = read_all(api, limit=100)[0]
    assert {e["created_at"][:10] for e in kept} <= {later.date().isoformat()}
    if postgresql:
        assert "partitions: 9 days made ahead" in output  # 3 days of 3 tables
        assert start.date() not in _days("event") | _days("webhook_delivery")
        ahead = {(later + timedelta(days=n)).date() for n in range(3)}
        assert ahead <= _days("event") and ahead <= _days("webhook_delivery")
    else:
        assert "partitions" not in output


def test_a_day_with_a_delivery_still_owed_is_kept_until_it_is_delivered(api, receiver):  # noqa: F811
    hook = register(api, receiver)  # registered, not listening yet: the delivery waits
    grants(api, "news")
    assert webhooks.deliver_all().retrying == 1
    later = clock.now() + timedelta(days=31)

    def run():  # as `flask lifecycle run` does: whole days, then rows
        days = retention.rotate(later)
        events, deliveries = retention.purge(later)
        return days.events + events, days.deliveries + deliveries

    assert run() == (0, 0)
    receiver.start()
    clock.freeze(clock.now() + timedelta(minutes=1))
    assert webhooks.deliver_all().sent == 1
    assert run()[0] == 1  # the delivery goes with its day, or with its event (SQLite)
    assert api.get(f"/webhooks/{hook['id']}/deliveries").json["deliveries"] == []
    assert run() == (0, 0)


def test_a_day_a_long_reader_holds_is_kept_back_and_goes_with_the_next_run(api):
    """Dropping a day waits at most a second for a running transaction on the table (a long
    feed read), so that writers never queue behind it; the next run drops the day."""
    start = partitions.day(datetime.now(UTC)) + timedelta(days=5, hours=12)
    later = start + timedelta(days=31)
    clock.freeze(start)
    grants(api, "news")
    partitions.make_ahead(start)
    if partitions.is_postgresql(db.session.get_bind()):
        # The days before the test's (the migration's, every test starts with them) go first,
        # so that the test's day is the only one past its time at ``later``.
        retention.rotate(start + timedelta(days=30))
        with db.engine.connect() as reader:
            reader.execute(sa.text("SELECT count(*) FROM event"))  # its transaction stays open
            held = retention.rotate(later)
            assert (held.events, held.kept) == (0, 1)
            reader.rollback()
    days = retention.rotate(later)
    events, _ = retention.purge(later)
    assert days.events + events == 1 and read_all(api, limit=100)[0] == []
