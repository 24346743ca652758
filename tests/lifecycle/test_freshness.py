"""Freshness: what we hold is confirmed by the person on time, one mail per period."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.core.kernel import clock
from portal.core.lifecycle import run
from portal.core.lifecycle.models import LifecycleNotice
from portal.core.lifecycle.policy import update_policy
from portal.core.people import profile
from portal.core.people.models.profile import ProfileField
from portal.extensions import db
from tests.actions import csrf_token, deliver, path_of
from tests.lifecycle.factories import PARIS, START, member
from tests.smtp import html_of, text_of

STILL_RIGHT = re.compile(r"https?://\S+/still-right/\S+")
UPDATE = re.compile(r"https?://\S+/details/\S+")


@pytest.fixture(autouse=True)
def start(app):
    clock.freeze(START)


def _at(days: int):
    clock.freeze(START + timedelta(days=days))


def _confirmed_at(name=profile.POSTAL):
    db.session.expire_all()
    return db.session.scalar(select(ProfileField.confirmed_at).where(ProfileField.name == name))


def _due_mail(demo, smtp, email="home@example.com"):
    update_policy(demo, {"repermission_months": None}, actor="admin:1")  # one mail at a time
    member(email, postal=PARIS)
    _at(370)
    assert run.run(demo)["freshness"] == 1
    deliver()
    [mail] = smtp.to(email)
    return mail


def test_one_mail_lists_what_we_hold_and_still_right_confirms_it(client, demo, smtp):
    update_policy(demo, {"repermission_months": None}, actor="admin:1")
    member("home@example.com", postal=PARIS)
    _at(360)
    assert run.run(demo)["freshness"] == 0
    _at(370)
    assert run.preview(demo)["freshness"] == 1
    assert run.run(demo)["freshness"] == 1
    assert run.run(demo)["freshness"] == 0
    deliver()
    [mail] = smtp.to("home@example.com")
    assert mail["Subject"] == "Is this still right? Your details at LÜXE"
    assert "Postal address: 1 rue de Rivoli, 75001 Paris, FR" in text_of(mail)
    assert "Still right" in html_of(mail) and "Update" in html_of(mail)

    link = path_of(STILL_RIGHT.search(text_of(mail)).group(0))
    page = client.get(link)
    assert "1 rue de Rivoli" in page.get_data(as_text=True)
    assert _confirmed_at() == START  # opening the link confirms nothing
    done = client.post(link, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert "Your details are confirmed as of today" in done.get_data(as_text=True)
    assert _confirmed_at() == START + timedelta(days=370)

    _at(370 + 360)
    assert run.run(demo)["freshness"] == 0
    _at(370 + 370)  # a year after the confirmation, asked again
    assert run.run(demo)["freshness"] == 1


def test_an_unanswered_mail_is_not_repeated_within_the_period(client, demo, smtp):
    _due_mail(demo, smtp)
    for days in (380, 500, 700):
        _at(days)
        assert run.run(demo)["freshness"] == 0
    _at(370 + 366)
    assert run.run(demo)["freshness"] == 1
    periods = db.session.scalars(select(LifecycleNotice.period)).all()
    assert len(set(periods)) == 2


def test_several_fields_due_make_one_mail(client, demo, smtp):
    update_policy(
        demo,
        {
            "repermission_months": None,
            "reconfirm_months": {"postal_address": 12, "mobile_number": 6},
        },
        actor="admin:1",
    )
    subject = member("both@example.com", postal=PARIS)
    from portal.core.kernel.transaction import transaction

    with transaction():
        profile.set_field(subject, profile.MOBILE, "+33612345678", actor="subject")
    _at(370)
    assert run.run(demo)["freshness"] == 1
    deliver()
    [mail] = smtp.to("both@example.com")
    assert "Mobile number: +33612345678" in text_of(mail)
    assert "Postal address:" in text_of(mail)


def test_update_saves_the_corrected_address_and_keeps_what_was_typed_on_error(client, demo, smtp):
    mail = _due_mail(demo, smtp)
    link = path_of(UPDATE.search(text_of(mail)).group(0))
    page = client.get(link).get_data(as_text=True)
    assert 'value="1 rue de Rivoli"' in page and 'value="75001"' in page
    form = {
        "csrf_token": csrf_token(page),
        "postal_line1": "8 quai des Brumes",
        "postal_postcode": "",
        "postal_city": "Lyon",
        "postal_country": "FR",
    }
    refused = client.post(link, data=form)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "Enter the postcode." in html and 'value="8 quai des Brumes"' in html
    assert profile.postal_parts(_value())["city"] == "Paris"

    saved = client.post(link, data={**form, "postal_postcode": "69002"})
    assert "Your details are confirmed as of today" in saved.get_data(as_text=True)
    assert profile.postal_parts(_value()) == {
        "lines": ["8 quai des Brumes"],
        "postcode": "69002",
        "city": "Lyon",
        "country": "FR",
    }
    assert _confirmed_at() == START + timedelta(days=370)


def _value():
    db.session.expire_all()
    return db.session.scalar(
        select(ProfileField).where(ProfileField.name == "postal_address")
    ).value
