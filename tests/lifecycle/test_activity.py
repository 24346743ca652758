"""What counts as the person's last activity, and when a consent ended, at the rules' edges."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from portal.core.consent.preferences import unsubscribe_all
from portal.core.kernel import clock
from portal.core.kernel.transaction import commit_session
from portal.core.lifecycle import activity, answers, run
from portal.core.lifecycle.activity import last_activity
from portal.core.people import profile, subjects
from portal.core.people.models.passkey import Passkey
from portal.core.people.models.subject import ACTIVE, Subject
from portal.extensions import db
from tests.factories import ORIGIN, PARIS, START, member

TWO_YEARS_ON = START.replace(year=START.year + 2)  # 24 calendar months: the dormancy cut-off


@pytest.fixture(autouse=True)
def start(app):
    clock.freeze(START)


def _at(moment):
    clock.freeze(moment)


def test_activity_at_the_cut_off_itself_keeps_the_person(demo):
    unsubscribe_all(member("edge@example.com"), ORIGIN)  # their last activity: START
    _at(TWO_YEARS_ON)
    assert run.preview(demo)["dormant"] == 0
    _at(TWO_YEARS_ON + timedelta(seconds=1))
    assert run.preview(demo)["dormant"] == 1


def test_the_latest_activity_counts_and_a_rules_own_ledger_rows_do_not(demo, smtp):
    unsubscribe_all(member("quiet@example.com"), ORIGIN)
    edited = member("edited@example.com")
    unsubscribe_all(edited, ORIGIN)
    member("lapsed@example.com")  # keeps its consent, says nothing
    _at(START + timedelta(days=100))
    with commit_session():
        profile.set_field(edited, profile.POSTAL, PARIS, actor="subject")
    _at(START + timedelta(days=550))
    assert run.run(demo)["repermission"] == 1
    _at(START + timedelta(days=590))
    assert run.run(demo)["lapse"] == 1  # ledger rows by retention:repermission, not the person

    _at(TWO_YEARS_ON + timedelta(days=1))
    assert run.preview(demo)["dormant"] == 2  # quiet, and lapsed: silent since START
    _at(TWO_YEARS_ON + timedelta(days=110))
    assert run.preview(demo)["dormant"] == 3  # edited's change of address, 24 months on


def test_a_former_customer_is_kept_from_the_later_of_leaving_and_the_last_withdrawal(demo):
    left_later = member("left-later@example.com")
    unsubscribe_all(left_later, ORIGIN)
    with commit_session():
        never_consented = subjects.find_or_create(demo.id, "never@example.com", "en")
        never_consented.status = ACTIVE
    answers.set_relationship(never_consented, "former_customer", ORIGIN)
    _at(START + timedelta(days=100))
    answers.set_relationship(left_later, "former_customer", ORIGIN)

    _at(START + timedelta(days=360))
    assert run.preview(demo)["former_customer"] == 0
    _at(START + timedelta(days=370))
    assert run.preview(demo)["former_customer"] == 1  # no consent ever: from leaving alone
    _at(START + timedelta(days=100 + 360))
    assert run.preview(demo)["former_customer"] == 1
    _at(START + timedelta(days=100 + 370))
    assert run.preview(demo)["former_customer"] == 2


def test_signing_in_with_a_passkey_is_activity(demo):
    person = member("touch@example.com")
    unsubscribe_all(person, ORIGIN)
    with commit_session():
        passkey = Passkey(
            subject_id=person.id,
            credential_id=b"laptop",
            public_key=b"-",
            user_handle=b"-",
            name="Laptop",
            created_at=START + timedelta(days=10),
        )
        db.session.add(passkey)
    _at(TWO_YEARS_ON + timedelta(days=11))
    assert run.preview(demo)["dormant"] == 1  # added, then never used
    with commit_session():
        passkey.last_used_at = START + timedelta(days=300)
    assert run.preview(demo)["dormant"] == 0
    _at(TWO_YEARS_ON + timedelta(days=310))  # 2028 is a leap year: a few days more
    assert run.preview(demo)["dormant"] == 1


def _kept(person) -> object:
    db.session.expire_all()
    return db.session.get(Subject, person.id).active_at


def test_the_last_activity_is_kept_as_it_happens_and_a_rules_rows_do_not_move_it(demo, smtp):
    person = member("kept@example.com")
    assert _kept(person) == START  # joining, confirming and the first consent
    _at(START + timedelta(days=3))
    with commit_session():
        profile.set_field(person, profile.POSTAL, PARIS, actor="subject")
    assert _kept(person) == START + timedelta(days=3)
    _at(START + timedelta(days=5))
    unsubscribe_all(person, ORIGIN)
    assert _kept(person) == START + timedelta(days=5)
    _at(START + timedelta(days=900))
    quiet = member("quiet-one@example.com")
    _at(START + timedelta(days=900 + 550))
    assert run.run(demo)["repermission"] == 1
    _at(START + timedelta(days=900 + 590))
    assert run.run(demo)["lapse"] == 1  # expired by retention:repermission, not by the person
    assert _kept(quiet) == START + timedelta(days=900)
    # What is kept is what the rules would compute from every table, for everyone.
    for subject in db.session.scalars(select(Subject)):
        assert subject.active_at == db.session.scalar(last_activity(subject.id)), subject.id


def test_the_rules_read_only_people_whose_last_activity_is_before_their_cut_off(demo):
    person = member("busy@example.com")
    unsubscribe_all(person, ORIGIN)
    _at(TWO_YEARS_ON + timedelta(days=1))
    assert run.preview(demo)["dormant"] == 1
    with commit_session():  # as if the person had done something today
        db.session.execute(update(Subject).values(active_at=clock.now()))
    assert run.preview(demo)["dormant"] == 0  # not read at all: outside the index range


def test_people_from_before_the_last_activity_was_kept_are_filled_in_by_the_run(demo):
    first, second = member("old-1@example.com"), member("old-2@example.com")
    _at(START + timedelta(days=7))
    unsubscribe_all(second, ORIGIN)
    with commit_session():  # people from before the upgrade
        db.session.execute(update(Subject).values(active_at=None))
    _at(TWO_YEARS_ON + timedelta(days=1))
    assert run.preview(demo)["dormant"] == 0 and run.preview(demo)["repermission"] == 1
    assert activity.fill_in(demo.id, limit=1) == 1  # bounded: one a call here
    assert (_kept(first), _kept(second)) == (START, None)
    run.run(demo)
    assert _kept(second) == START + timedelta(days=7)


def test_a_whole_batch_is_filled_in_with_what_each_persons_own_query_says(demo, smtp):
    people = [member(f"batch-{n}@example.com") for n in range(4)]
    for n, person in enumerate(people[1:], start=1):
        _at(START + timedelta(days=n))
        if n % 2:
            unsubscribe_all(person, ORIGIN)
        else:
            with commit_session():
                profile.set_field(person, profile.POSTAL, PARIS, actor="subject")
    with commit_session():
        db.session.execute(update(Subject).values(active_at=None))
    everyone = db.session.scalar(select(func.count()).select_from(Subject))
    assert activity.fill_in(demo.id, limit=everyone - 1) == everyone - 1
    assert activity.fill_in(demo.id) == 1 and activity.fill_in(demo.id) == 0
    for subject in db.session.scalars(select(Subject)):
        assert subject.active_at == db.session.scalar(last_activity(subject.id)), subject.id
    assert [_kept(p) for p in people] == [START + timedelta(days=n) for n in range(4)]
