"""The sign-up journey through a real SMTP server: sign up, read the mail, confirm."""

from sqlalchemy import select

from portal.core.consent.ledger import personal_part
from portal.core.consent.models import Consent, LedgerEntry
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.actions import confirm, confirmation_link, deliver, path_of, sign_up
from tests.smtp import html_of, text_of


def test_home_lists_every_brand_of_the_group(client, demo):
    page = client.get("/luxe/").get_data(as_text=True)
    assert "LÜXE" in page
    for name in (
        "Camille",
        "Maison Aurèle",
        "Vespera",
        "Orsini Milano",
        "Hartwell &amp; Ives",
        "Solenne",
        "Kōgen",
    ):
        assert name in page
    assert 'href="/luxe/join/camille"' in page


def test_root_goes_to_the_only_group(client, demo):
    assert client.get("/").headers["Location"].endswith("/luxe/")


def test_signup_page_offers_topics_unticked_with_the_consent_text(client, demo):
    page = client.get("/luxe/join/camille").get_data(as_text=True)
    assert "Sign up to Camille" in page
    assert page.count('type="checkbox"') == 6
    assert "checked" not in page
    assert "I agree that Camille may send me" in page
    assert "Privacy policy version 2026-01" in page


def test_sign_up_and_confirm_through_a_real_mail(client, demo, smtp):
    answer = sign_up(client, "Ann.Smith@Example.COM")
    assert answer.status_code == 200
    assert "Check your inbox" in answer.get_data(as_text=True)
    assert smtp.messages == []  # nothing is sent inside the request

    assert deliver().sent == 1
    [mail] = smtp.messages
    assert mail["To"] == "ann.smith@example.com"
    assert mail["From"] == "Camille <hello@camille.example>"
    assert mail["Subject"] == "Please confirm your subscription to Camille"
    assert "News" in text_of(mail) and "Events and previews" in text_of(mail)
    assert "#7a1f3d" in html_of(mail)  # the brand's colour

    link = confirmation_link(mail)
    subject = db.session.scalar(select(Subject))
    assert subject.status == "pending"
    # Opening the link (as a mail scanner would) changes nothing.
    page = client.get(path_of(link))
    assert "Confirm your subscription" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(Subject)).status == "pending"

    done = confirm(client, link)
    assert "Thank you, you are subscribed" in done.get_data(as_text=True)
    db.session.expire_all()
    subject = db.session.scalar(select(Subject))
    assert subject.status == "active" and subject.confirmed_at is not None
    consents = db.session.scalars(select(Consent)).all()
    assert {(c.topic.key, c.channel, c.state) for c in consents} == {
        ("news", "email", "granted"),
        ("events", "email", "granted"),
    }
    rows = db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
    assert [(r.action, r.source) for r in rows] == [
        ("requested", "signup_form"),
        ("requested", "signup_form"),
        ("confirmed", "double_opt_in"),
        ("confirmed", "double_opt_in"),
    ]
    confirmed = rows[-1]
    assert confirmed.requested_at < confirmed.occurred_at
    assert confirmed.policy_version == "2026-01" and confirmed.text_version.version == 1
    assert personal_part(confirmed)["ip"] == "127.0.0.0" and confirmed.language == "en"


def test_answer_is_the_same_for_new_pending_active_addresses(client, demo, smtp):
    def answer(address):
        html = sign_up(client, address).get_data(as_text=True)
        return html.replace(address, "ADDRESS")

    new = answer("new@example.com")
    pending = answer("new@example.com")
    sign_up(client, "active@example.com")
    deliver()
    confirm(client, confirmation_link(smtp.to("active@example.com")[0]))
    active = answer("active@example.com")
    assert new == pending == active


def test_an_active_subject_is_told_so_instead_of_confirming_again(client, demo, smtp):
    sign_up(client, "known@example.com")
    deliver()
    confirm(client, confirmation_link(smtp.messages[0]))
    smtp.clear()

    sign_up(client, "known@example.com")
    deliver()
    [mail] = smtp.messages
    assert mail["Subject"] == "You are already registered with Camille"
    assert "You already receive everything that was asked for" in text_of(mail)
    assert "/confirm/" not in text_of(mail)
    assert "http://portal.test/luxe/" in text_of(mail)


def test_an_active_subject_confirms_only_new_topics(client, demo, smtp):
    sign_up(client, "more@example.com", topics=None)
    deliver()
    confirm(client, confirmation_link(smtp.messages[0]))
    smtp.clear()
    page = client.get("/luxe/join/camille").get_data(as_text=True)
    third = int(page.split('name="topics" value="')[3].split('"')[0])
    sign_up(client, "more@example.com", topics=[third])
    deliver()
    [mail] = smtp.messages
    assert mail["Subject"] == "You are already registered with Camille"
    assert "Offers" in text_of(mail)
    confirm(client, confirmation_link(mail))
    granted = db.session.scalars(select(Consent).where(Consent.state == "granted")).all()
    assert sorted(c.topic.key for c in granted) == ["events", "news", "offers"]


def test_smtp_outage_during_signup_then_delivered_exactly_once(client, demo, smtp):
    smtp.stop()
    sign_up(client, "outage@example.com")
    first = deliver()
    assert (first.sent, first.retrying) == (0, 1)
    smtp.start()
    assert deliver().sent == 0  # not due yet: back-off holds it

    from datetime import timedelta

    from portal.core.kernel import clock

    clock.freeze(clock.now() + timedelta(minutes=5))
    assert deliver().sent == 1
    assert deliver().sent == 0
    assert len(smtp.to("outage@example.com")) == 1
