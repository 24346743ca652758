"""`flask lifecycle run`: counts, dry runs that change nothing, two runs at once, settings."""

import re
from datetime import timedelta

import pytest

from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidInput
from portal.core.lifecycle import run
from portal.core.lifecycle.models import LifecycleNotice
from portal.core.lifecycle.policy import months_ago, policy_of, update_policy
from portal.core.mail.models import OutboxMessage
from portal.extensions import db
from tests.actions import at_once, decide, deliver, sign_up
from tests.factories import PARIS, START, count, member


@pytest.fixture(autouse=True)
def start(app):
    clock.freeze(START)


def test_dry_run_prints_counts_and_changes_nothing(runner, client, demo, smtp):
    sign_up(client, "pending@example.com")
    decide()
    member("quiet@example.com", postal=PARIS)
    clock.freeze(START + timedelta(days=550))
    before = (count(OutboxMessage), count(LifecycleNotice))

    result = runner.invoke(args=["lifecycle", "run", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "luxe unconfirmed: would erase or drop the unconfirmed sign-ups of 1 subjects",
        "luxe lapse: would expire the consents of 0 subjects",
        "luxe repermission: would mail 1 subjects",
        "luxe freshness: would mail 1 subjects",
        "luxe dormant: would erase 0 subjects",
        "luxe former_customer: would erase 0 subjects",
    ]
    assert (count(OutboxMessage), count(LifecycleNotice)) == before

    result = runner.invoke(args=["lifecycle", "run", "--batch", "1"])
    assert result.exit_code == 0, result.output
    assert "luxe repermission: mail 1 subjects: done" in result.output
    assert "luxe unconfirmed: erase or drop the unconfirmed sign-ups of 1 subjects: done" in (
        result.output
    )
    rolled = re.compile(r"luxe dashboard: (\d+) daily figures of closed days written")
    first = int(rolled.search(result.output).group(1))
    again = runner.invoke(args=["lifecycle", "run"])
    assert "luxe freshness: mail 0 subjects: done" in again.output
    # The closed days are rolled up already: only the last ones are counted again.
    assert 0 < int(rolled.search(again.output).group(1)) < first
    deliver()
    assert sorted(m["Subject"] for m in smtp.to("quiet@example.com")) == [
        "Do you still want to hear from LÜXE?",
        "Is this still right? Your details at LÜXE",
    ]


def test_an_unknown_group_is_a_clear_error(runner, demo):
    result = runner.invoke(args=["lifecycle", "run", "--group", "nope"])
    assert result.exit_code != 0 and "no site group 'nope'" in result.output


def test_two_runs_at_once_never_mail_anyone_twice(app, demo, smtp):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("several machines share PostgreSQL; SQLite serves one process")
    people = [f"p{n}@example.com" for n in range(24)]
    for address in people:
        member(address, postal=PARIS)
    clock.freeze(START + timedelta(days=550))
    results, errors = at_once(app, lambda: run.run(db.session.get(type(demo), demo.id), batch=4))
    assert errors == []
    assert sum(result["repermission"] for result in results) == 24
    assert sum(result["freshness"] for result in results) == 24
    deliver()
    for address in people:
        assert len(smtp.to(address)) == 2, address  # one of each kind, never twice


def test_policy_changes_are_validated_and_returned_for_the_audit(demo):
    before, after = update_policy(
        demo, {"dormant_months": 36, "reconfirm_months": {"mobile_number": 6}}, actor="admin:7"
    )
    assert before["dormant_months"] == 24 and after["dormant_months"] == 36
    assert before["reconfirm_months"] == {"postal_address": 12}
    assert after["reconfirm_months"] == {"mobile_number": 6}
    assert policy_of(demo).updated_by == "admin:7"
    for bad in (
        {"dormant_months": 0},
        {"dormant_months": "12"},
        {"repermission_answer_days": None},
        {"reconfirm_months": {"shoe_size": 3}},
        {"colour": "red"},
    ):
        with pytest.raises(InvalidInput):
            update_policy(demo, {"unconfirmed_days": 5, **bad}, actor="admin:7")
    assert policy_of(demo).unconfirmed_days == 30  # nothing of a refused change is written


def test_preview_counts_what_a_run_would_touch(demo):
    member("a@example.com")
    assert run.preview(demo) == dict.fromkeys(
        ("unconfirmed", "lapse", "repermission", "freshness", "dormant", "former_customer"), 0
    )
    update_policy(demo, {"reconfirm_months": {}}, actor="admin:1")
    clock.freeze(START + timedelta(days=600))
    counts = run.preview(demo)
    assert counts["repermission"] == 1 and counts["freshness"] is None


def test_months_are_calendar_months():
    from datetime import UTC, datetime

    assert months_ago(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert months_ago(datetime(2028, 3, 31, tzinfo=UTC), 1) == datetime(2028, 2, 29, tzinfo=UTC)
    assert months_ago(datetime(2026, 1, 15, tzinfo=UTC), 24) == datetime(2024, 1, 15, tzinfo=UTC)
