"""Re-permission: asked once after 18 months of silence; kept by one click, or lapsed."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.core.consent import audit
from portal.core.consent.models import Consent
from portal.core.kernel import clock
from portal.core.lifecycle import run
from portal.extensions import db
from tests.actions import csrf_token, deliver, path_of
from tests.factories import ORIGIN, START, ledger_rows, member, topic
from tests.smtp import html_of, text_of

KEEP = r"https?://\S+/keep/\S+"


@pytest.fixture(autouse=True)
def start(app):
    clock.freeze(START)


def _at(days: int):
    clock.freeze(START + timedelta(days=days))


def _keep_link(message) -> str:
    return re.search(KEEP, text_of(message)).group(0)


def _states():
    db.session.expire_all()
    return [row.state for row in db.session.scalars(select(Consent).order_by(Consent.id))]


def test_silence_brings_one_mail_and_then_the_consents_lapse(client, demo, smtp):
    member("quiet@example.com", keys=("news", "journal"))
    _at(540)  # 17.7 months
    assert run.run(demo)["repermission"] == 0
    _at(550)
    assert run.run(demo)["repermission"] == 1
    assert run.run(demo)["repermission"] == 0  # once per period, however often cron runs
    deliver()
    [mail] = smtp.to("quiet@example.com")
    assert mail["Subject"] == "Do you still want to hear from LÜXE?"
    body = text_of(mail)
    assert "Camille: News (Email)" in body and "Camille: The journal (Email)" in body
    assert "within 30 days" in body
    assert "Keep my subscriptions" in html_of(mail)

    _at(579)
    assert run.run(demo)["lapse"] == 0
    _at(581)
    assert run.run(demo) == {
        "unconfirmed": 0,
        "lapse": 1,
        "repermission": 0,
        "freshness": 0,
        "dormant": 0,
        "former_customer": 0,
    }
    assert _states() == ["withdrawn", "withdrawn"]
    expired = ledger_rows("expired")
    assert [row.evidence["rule"] for row in expired] == ["repermission", "repermission"]
    assert {row.actor for row in expired} == {"retention:repermission"}
    assert audit.verify(demo.id).breaks == []
    deliver()
    assert len(smtp.to("quiet@example.com")) == 1  # no second ask

    page = client.get(path_of(_keep_link(mail)))  # too late now
    assert "Your subscriptions have ended" in page.get_data(as_text=True)


def test_keep_my_subscriptions_confirms_them_in_the_ledger(client, demo, smtp):
    member("keen@example.com")
    _at(550)
    run.run(demo)
    deliver()
    link = path_of(_keep_link(smtp.to("keen@example.com")[0]))
    page = client.get(link)  # a mail scanner opening the link changes nothing
    assert page.status_code == 200 and ledger_rows("confirmed") == []
    answer = client.post(link, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert "Your subscriptions stay as they are" in answer.get_data(as_text=True)
    [confirmed] = ledger_rows("confirmed")
    assert (confirmed.source, confirmed.actor) == ("retention", "subject")
    assert confirmed.evidence == {"rule": "repermission", "notice": 1}

    _at(600)  # past the answer window: nothing lapses
    assert run.run(demo)["lapse"] == 0
    assert _states() == ["granted"]
    again = client.post(link, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert "You already answered" in again.get_data(as_text=True)

    _at(550 + 560)  # another 18 months of silence: asked again
    assert run.run(demo)["repermission"] == 1


def test_any_activity_after_the_mail_is_an_answer(client, demo, smtp):
    from portal.core.consent.preferences import Change, apply

    subject = member("busy@example.com", keys=("news", "journal"))
    _at(550)
    run.run(demo)
    _at(560)  # the person turns one topic off in the centre instead of pressing the button
    journal = topic("journal")
    apply(subject, [Change(journal.id, "email", wanted=False, shown=True)], {}, "en", ORIGIN)
    _at(600)
    assert run.run(demo)["lapse"] == 0
    assert _states() == ["granted", "withdrawn"]
    assert ledger_rows("expired") == []


def test_bad_and_foreign_links_are_refused_clearly(client, demo, smtp):
    assert client.get("/luxe/keep/nonsense").status_code == 400
    member("k@example.com")
    _at(550)
    run.run(demo)
    deliver()
    link = path_of(_keep_link(smtp.to("k@example.com")[0]))
    assert client.get(link.replace("/keep/", "/still-right/")).status_code == 400
    clock.freeze(START + timedelta(days=550 + 61))
    assert client.get(link).status_code == 410
