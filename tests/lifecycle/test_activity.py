"""What counts as the person's last activity, and when a consent ended, at the rules' edges."""

from datetime import timedelta

import pytest

from portal.core.consent.preferences import unsubscribe_all
from portal.core.kernel import clock
from portal.core.kernel.transaction import transaction
from portal.core.lifecycle import answers, run
from portal.core.people import profile, subjects
from portal.core.people.models.passkey import Passkey
from portal.core.people.models.subject import ACTIVE
from portal.extensions import db
from tests.lifecycle.factories import ORIGIN, PARIS, START, member

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
    with transaction():
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
    with transaction():
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
    with transaction():
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
    with transaction():
        passkey.last_used_at = START + timedelta(days=300)
    assert run.preview(demo)["dormant"] == 0
    _at(TWO_YEARS_ON + timedelta(days=310))  # 2028 is a leap year: a few days more
    assert run.preview(demo)["dormant"] == 1
