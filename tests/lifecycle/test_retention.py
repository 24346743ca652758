"""Retention (GDPR Art. 5(1)(e)): unconfirmed sign-ups, dormant people, former customers."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.core.consent import audit
from portal.core.kernel import clock
from portal.core.lifecycle import answers, run
from portal.core.lifecycle.policy import update_policy
from portal.core.people import subjects
from portal.core.people.models.erasure import ErasureRecord, Suppression
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.actions import decide, deliver, sign_up
from tests.factories import ORIGIN, START, count, ledger_rows, member


@pytest.fixture(autouse=True)
def start(app):
    clock.freeze(START)


def _later(**delta):
    clock.freeze(START + timedelta(**delta))


def test_an_unconfirmed_sign_up_goes_after_30_days_without_mail_or_suppression(client, demo, smtp):
    sign_up(client, "never@example.com")
    deliver()
    smtp.clear()

    _later(days=29)
    assert run.run(demo)["unconfirmed"] == 0
    assert subjects.find(demo.id, "never@example.com") is not None

    _later(days=30, minutes=1)
    assert run.run(demo)["unconfirmed"] == 1
    assert subjects.find(demo.id, "never@example.com") is None
    [record] = db.session.scalars(select(ErasureRecord)).all()
    assert record.requested_by == "retention:unconfirmed"
    assert record.reason.startswith("unconfirmed:")
    expired = ledger_rows("expired")
    assert len(expired) == 2  # the two topics asked for, pending, now expired
    assert all(row.evidence["rule"] == "unconfirmed" for row in expired)
    assert all(row.actor == "retention:unconfirmed" and row.subject_id is None for row in expired)
    assert count(Suppression) == 0  # they never agreed to anything: nothing kept about them
    deliver()
    assert smtp.messages == []  # the address was never proven theirs: no mail to a stranger
    assert audit.verify(demo.id).breaks == []
    assert run.run(demo)["unconfirmed"] == 0  # idempotent


def test_a_known_persons_unconfirmed_request_is_dropped_and_its_consents_expire(client, demo, smtp):
    from portal.core.consent.models import Consent, SignupRequest
    from tests.actions import confirm, confirmation_link

    sign_up(client, "known@example.com")
    decide()
    deliver()
    confirm(client, confirmation_link(smtp.to("known@example.com")[0]))
    _later(days=10)
    sign_up(client, "known@example.com", topics=[3])  # asks for one more, never confirms
    decide()
    _later(days=20)
    sign_up(client, "known@example.com", topics=[4])  # and another, still in its window
    decide()
    _later(days=41)
    assert run.run(demo)["unconfirmed"] == 1
    assert run.run(demo)["unconfirmed"] == 0
    db.session.expire_all()
    states = {row.topic_id: row.state for row in db.session.scalars(select(Consent))}
    assert states == {1: "granted", 2: "granted", 3: "withdrawn", 4: "pending"}
    left = db.session.scalars(select(SignupRequest.topic_ids).order_by(SignupRequest.id)).all()
    assert left == [[1, 2], [4]]  # the confirmed one stays as proof, the recent one waits
    [expired] = ledger_rows("expired")
    assert (expired.topic_id, expired.evidence) == (3, {"rule": "unconfirmed"})
    assert subjects.find(demo.id, "known@example.com") is not None
    assert audit.verify(demo.id).breaks == []


def test_signing_up_again_restarts_the_unconfirmed_clock(client, demo, smtp):
    sign_up(client, "again@example.com")
    decide()
    _later(days=20)
    sign_up(client, "again@example.com")
    decide()
    _later(days=31)
    assert run.run(demo)["unconfirmed"] == 0
    _later(days=51)
    assert run.run(demo)["unconfirmed"] == 1


def test_no_consent_and_no_activity_for_24_months_is_erased(client, demo, smtp):
    gone = member("dormant@example.com")
    member("stays@example.com")
    with_consent_left = gone.id
    from portal.core.consent.preferences import unsubscribe_all

    unsubscribe_all(db.session.get(Subject, with_consent_left), ORIGIN)

    clock.freeze(START + timedelta(days=365 * 2 - 2))
    assert run.preview(demo)["dormant"] == 0
    clock.freeze(START + timedelta(days=365 * 2 + 1))
    assert run.preview(demo)["dormant"] == 1
    assert run.run(demo)["dormant"] == 1

    assert subjects.find(demo.id, "dormant@example.com") is None
    assert subjects.find(demo.id, "stays@example.com") is not None  # still holds a consent
    [record] = db.session.scalars(select(ErasureRecord)).all()
    assert record.requested_by == "retention:dormant"
    assert record.reason == "dormant: no consent and no activity for 24 months"
    assert count(Suppression) == 1  # the same erasure as a person's own: never mailed again
    deliver()
    [farewell] = smtp.to("dormant@example.com")
    assert "erased" in farewell["Subject"]
    assert run.run(demo)["dormant"] == 0


def test_activity_keeps_a_person_without_consent(client, demo, smtp):
    from portal.core.consent.preferences import unsubscribe_all

    subject = member("active@example.com")
    unsubscribe_all(subject, ORIGIN)
    clock.freeze(START + timedelta(days=400))
    unsubscribe_all(subject, ORIGIN)  # nothing to withdraw: no ledger row, no activity
    from portal.core.people import access

    access.request_link(demo, "active@example.com", "en", demo.brands[0])
    deliver()
    link = db.session.scalars(select(access.SignInLink)).first()
    access.use_link(demo.id, {"g": demo.id, "l": link.id, "s": subject.id})  # activity
    clock.freeze(START + timedelta(days=365 * 2 + 1))
    assert run.run(demo)["dormant"] == 0
    clock.freeze(START + timedelta(days=400 + 365 * 2 + 5))
    assert run.run(demo)["dormant"] == 1


def test_customers_are_spared_and_former_customers_kept_for_their_own_time(client, demo, smtp):
    from portal.core.consent.preferences import unsubscribe_all

    customer = member("customer@example.com")
    former = member("former@example.com")
    answers.set_relationship(customer, "customer", ORIGIN)
    answers.set_relationship(former, "former_customer", ORIGIN)
    unsubscribe_all(customer, ORIGIN)
    _later(days=100)
    unsubscribe_all(former, ORIGIN)  # the last consent ends here

    clock.freeze(START + timedelta(days=100 + 360))
    assert run.run(demo)["former_customer"] == 0
    clock.freeze(START + timedelta(days=100 + 370))
    assert run.run(demo)["former_customer"] == 1
    [record] = db.session.scalars(select(ErasureRecord)).all()
    assert record.requested_by == "retention:former_customer"

    clock.freeze(START + timedelta(days=365 * 5))
    assert run.run(demo) == {
        "unconfirmed": 0,
        "lapse": 0,
        "repermission": 0,
        "freshness": 0,
        "dormant": 0,  # a customer, as the integrating system says, is theirs to keep
        "former_customer": 0,
    }
    assert subjects.find(demo.id, "customer@example.com") is not None


def test_a_rule_turned_off_touches_nobody(client, demo, smtp):
    sign_up(client, "never@example.com")
    decide()
    update_policy(demo, {"unconfirmed_days": None}, actor="admin:1")
    _later(days=400)
    assert run.run(demo)["unconfirmed"] is None
    assert subjects.find(demo.id, "never@example.com") is not None


def test_relationship_refuses_what_it_does_not_know(demo):
    from portal.core.kernel.errors import InvalidInput

    subject = member("who@example.com")
    with pytest.raises(InvalidInput):
        answers.set_relationship(subject, "friend", ORIGIN)
    assert answers.set_relationship(subject, "prospect", ORIGIN) is True
    assert answers.set_relationship(subject, "prospect", ORIGIN) is False
    db.session.expire_all()
    assert db.session.get(Subject, subject.id).relationship_status == "prospect"
