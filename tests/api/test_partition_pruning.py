"""On PostgreSQL the outbox, webhook deliveries and events are partitioned by day (one
partition a day kept). A worker names each row it claimed by id and creation time, so its
status updates and reads touch the row's own day, never every partition (asked of EXPLAIN)."""

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.core.integrations import webhooks
from portal.core.kernel import clock, partitions
from portal.core.mail import outbox
from portal.extensions import db
from tests.api.test_feed_retention import grants
from tests.api.test_webhooks import receiver, register  # noqa: F401 - the fixture

pytestmark = pytest.mark.one_database("postgresql")


@contextmanager
def statements():
    """Every statement the app sends meanwhile, with its parameters."""
    seen = []

    def keep(connection, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", keep)


def _names(node, found: set) -> set:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Relation Name":
                found.add(value)
            _names(value, found)
    elif isinstance(node, list):
        for value in node:
            _names(value, found)
    return found


def read_by(statement: str, parameters, table: str) -> set[str]:
    """The partitions of ``table`` the statement's plan reads or writes."""
    with db.engine.connect() as connection:
        plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        found = _names(plan.scalar(), set())
    return {name for name in found if name.startswith(f"{table}_p")}


def _a_day_of_its_own():
    """A day with a partition of its own (not the migration's legacy one), and the clock in it."""
    start = partitions.day(datetime.now(UTC)) + timedelta(days=5, hours=12)
    clock.freeze(start)
    partitions.make_ahead(start)
    return start


def _named(seen, table: str, verb: str):
    """The statements that name rows of ``table`` by their creation time."""
    times = (f"{table}.created_at = ", f"{table}.created_at IN ")
    return [
        (statement, parameters)
        for statement, parameters in seen
        if statement.startswith(verb) and any(time in statement for time in times)
    ]


def test_a_mail_sent_is_claimed_read_and_marked_in_its_own_day(app, demo, smtp):
    start = _a_day_of_its_own()
    outbox.queue(
        demo.id,
        None,
        "test",
        to="r@example.com",
        sender=["S", "s@example.com"],
        subject="Hello",
        text="text",
        html="<p>html</p>",
    )
    db.session.commit()
    with statements() as seen:
        assert outbox.send_all().sent == 1
    day = {f"outbox_message_p{start:%Y%m%d}"}
    updates = [s for s in seen if s[0].startswith("UPDATE outbox_message")]
    assert len(updates) == 2  # the lease, then "sent"
    assert [read_by(*update, "outbox_message") for update in updates] == [day, day]
    reads = _named(seen, "outbox_message", "SELECT")
    assert reads and all(read_by(*read, "outbox_message") == day for read in reads)
    # The same statement by id alone reads every day kept: what the time saves.
    statement, parameters = updates[-1]
    assert len(read_by(statement.split(" AND ")[0], parameters, "outbox_message")) > 3


def test_a_webhook_delivery_is_read_and_marked_in_its_own_day(api, receiver):  # noqa: F811
    start = _a_day_of_its_own()
    receiver.start()
    register(api, receiver)
    # Signed at the test's frozen time, days ahead: checked against that time.
    receiver.verify_with = lambda headers, body: (
        200
        if webhooks.verify(
            receiver.secret, headers.get("Portal-Signature", ""), body, clock.now().timestamp()
        )
        else 401
    )
    grants(api, "news")
    with statements() as seen:
        assert webhooks.deliver_all().sent >= 1
    updates = [s for s in seen if s[0].startswith("UPDATE webhook_delivery")]
    assert len(updates) >= 2  # the lease, then "delivered"
    day = {f"webhook_delivery_p{start:%Y%m%d}"}
    assert all(read_by(*update, "webhook_delivery") == day for update in updates)
    events = [s for s in seen if s[0].startswith("SELECT") and "FROM event " in s[0]]
    assert events and all(read_by(*read, "event") == {f"event_p{start:%Y%m%d}"} for read in events)
