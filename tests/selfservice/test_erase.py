"""Withdraw and erase: explained, confirmed only by a fresh mailed link, then all gone."""

from datetime import timedelta

from sqlalchemy import func, select

from portal.core.consent import audit
from portal.core.kernel import clock
from portal.core.people import subjects
from portal.core.people.models.erasure import ErasureRecord
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.actions import (
    PAGE,
    ask_erasure,
    deliver,
    manage_link,
    open_manage_link,
    press,
    sign_up,
    signed_in,
    subscribed,
)
from tests.conftest import csrf_token
from tests.smtp import text_of


def test_erasure_needs_the_mailed_link_and_then_everything_goes(client, demo, smtp):
    signed_in(client, smtp, "leave@example.com")
    explained = client.get(f"{PAGE}erase").get_data(as_text=True)
    assert "This cannot be undone" in explained and "one-way fingerprint" in explained
    link = ask_erasure(client, smtp, "leave@example.com")
    assert subjects.find(demo.id, "leave@example.com") is not None  # asking erases nothing
    page = client.get(link)  # a mail scanner's GET erases nothing either
    assert "leave@example.com" in page.get_data(as_text=True)
    assert subjects.find(demo.id, "leave@example.com") is not None

    done = client.post(link, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and "Your data is erased" in html
    assert "Consents withdrawn" in html and "Reference of this erasure" in html
    assert db.session.scalar(select(func.count()).select_from(Subject)) == 0
    record = db.session.scalar(select(ErasureRecord))
    assert record.requested_by == "subject" and record.counts["consents_withdrawn"] == 2
    assert audit.verify(demo.id).breaks == []
    assert client.get(PAGE).status_code == 302  # the session ended
    assert client.get(link).status_code == 400  # used up with the person
    deliver()
    assert "we have erased your data" in text_of(smtp.to("leave@example.com")[-1])


def test_a_forwarded_manage_link_cannot_erase(client, demo, smtp):
    subscribed(client, smtp, "forwarded@example.com")
    sign_up(client, "forwarded@example.com")
    deliver()
    footer = manage_link(smtp.to("forwarded@example.com")[-1])
    open_manage_link(client, footer)  # whoever holds the footer link: "preferences" level only
    answer = client.get(f"{PAGE}erase")
    assert "/confirm-it-is-you" in answer.headers["Location"]
    posted = client.post(
        f"{PAGE}erase",
        data={"csrf_token": csrf_token(client.get("/luxe/preferences/").get_data(as_text=True))},
    )
    assert "/confirm-it-is-you" in posted.headers["Location"]
    assert subjects.find(demo.id, "forwarded@example.com") is not None


def test_an_expired_or_tampered_erasure_link_erases_nothing(client, demo, smtp):
    signed_in(client, smtp, "late@example.com")
    link = ask_erasure(client, smtp, "late@example.com")
    assert client.get(link[:-3] + "abc").status_code == 400
    assert client.get(link.replace("/erase/", "/erase/x")).status_code == 400
    clock.freeze(clock.now() + timedelta(minutes=31))
    assert client.get(link).status_code == 410
    assert client.post(link, data={}).status_code in (400, 410)
    assert subjects.find(demo.id, "late@example.com") is not None


def test_a_sign_in_link_is_not_an_erasure_link(client, demo, smtp):
    signed_in(client, smtp, "mixed@example.com")
    link = ask_erasure(client, smtp, "mixed@example.com")
    token = link.rsplit("/", 1)[1]
    assert client.get(f"/luxe/preferences/link/{token}").status_code == 400
    assert press(client, link).status_code == 200
