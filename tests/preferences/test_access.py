"""Getting into the preference centre without a password, and out again."""

from datetime import timedelta

from portal.core.consent.models import LedgerEntry
from portal.core.kernel import clock
from portal.extensions import db
from tests.actions import (
    deliver,
    magic_link,
    manage_link,
    open_manage_link,
    path_of,
    request_link,
    sign_in,
    subscribed,
)
from tests.conftest import csrf_token


def test_known_and_unknown_addresses_get_the_same_answer_and_only_known_get_mail(
    client, demo, smtp
):
    subscribed(client, smtp, "known@example.com")
    known = request_link(client, "known@example.com")
    unknown = request_link(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    strip = lambda r, a: r.get_data(as_text=True).replace(a, "ADDRESS")  # noqa: E731
    assert strip(known, "known@example.com") == strip(unknown, "nobody@example.com")
    deliver()
    assert len(smtp.to("known@example.com")) == 1
    assert smtp.to("nobody@example.com") == []


def test_a_bad_address_is_refused_in_place(client, demo):
    response = request_link(client, "not an address")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'aria-describedby="email-error"' in html
    assert "Enter a valid email address" in html
    assert 'value="not an address"' in html


def test_a_magic_link_opens_the_centre_once(client, demo, smtp):
    subscribed(client, smtp, "once@example.com")
    request_link(client, "once@example.com")
    deliver()
    link = magic_link(smtp.to("once@example.com")[-1])
    page = client.get(path_of(link))  # a GET (a mail scanner) uses nothing
    assert page.status_code == 200
    assert client.get(path_of(link)).status_code == 200
    opened = client.post(path_of(link), data={"csrf_token": csrf_token(page.get_data(True))})
    assert opened.status_code == 302
    assert opened.headers["Location"] == "/luxe/preferences/"
    assert "My preferences" in client.get("/luxe/preferences/").get_data(as_text=True)
    again = client.get(path_of(link))
    assert again.status_code == 410
    assert "already been used" in again.get_data(as_text=True)


def test_an_expired_or_tampered_link_is_refused(client, demo, smtp):
    subscribed(client, smtp, "late@example.com")
    request_link(client, "late@example.com")
    deliver()
    link = magic_link(smtp.to("late@example.com")[-1])
    assert client.get(path_of(link)[:-3] + "abc").status_code == 400
    clock.freeze(clock.now() + timedelta(minutes=31))
    expired = client.get(path_of(link))
    assert expired.status_code == 410
    assert "has expired" in expired.get_data(as_text=True)


def test_the_session_ends_after_30_idle_minutes_and_on_sign_out(client, demo, smtp):
    subscribed(client, smtp, "idle@example.com")
    response = sign_in(client, smtp, "idle@example.com")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    start = clock.now()
    clock.freeze(start + timedelta(minutes=29))
    assert client.get("/luxe/preferences/").status_code == 200
    clock.freeze(start + timedelta(minutes=58))  # 29 minutes after the last request: alive
    assert client.get("/luxe/preferences/").status_code == 200
    clock.freeze(start + timedelta(minutes=89))
    gone = client.get("/luxe/preferences/")
    assert gone.status_code == 302 and "/luxe/preferences/sign-in" in gone.headers["Location"]
    sign_in(client, smtp, "idle@example.com")
    page = client.get("/luxe/preferences/").get_data(as_text=True)
    client.post("/luxe/preferences/sign-out", data={"csrf_token": csrf_token(page)})
    assert client.get("/luxe/preferences/").status_code == 302


def test_every_mail_has_a_manage_link_for_subscription_changes_only(app, client, demo, smtp):
    from portal import sessions
    from portal.core.people.access import FULL

    subscribed(client, smtp, "footer@example.com")
    request_link(client, "footer@example.com")  # any mail: here a sign-in mail
    from tests.actions import sign_up

    sign_up(client, "footer@example.com", topics=None)
    deliver()
    mails = smtp.to("footer@example.com")
    already = next(m for m in mails if "already registered" in m["Subject"])
    link = manage_link(already)
    shown = client.get(path_of(link))  # a page with a button: opening the link signs no one in
    assert shown.status_code == 200
    assert client.get("/luxe/preferences/").status_code == 302
    opened = open_manage_link(client, link)
    assert opened.status_code == 302 and opened.headers["Location"] == "/luxe/preferences/"
    assert client.get("/luxe/preferences/").status_code == 200
    assert open_manage_link(client, link).status_code == 302  # not single use
    my_data = client.get("/luxe/my-data/")  # a footer link is not enough to read personal data
    assert my_data.status_code == 302 and "confirm-it-is-you" in my_data.headers["Location"]

    with app.test_request_context("/luxe/preferences/"):
        from flask import g

        g.group = demo
        guarded = sessions.require(FULL)(lambda: "ok")
        assert guarded() is not None
    # From the footer link, "full" needs a fresh link, which returns where the person was going.
    fresh = client.get("/luxe/preferences/confirm-it-is-you?next=/luxe/preferences/")
    assert "Confirm it is you" in fresh.get_data(as_text=True)
    smtp.clear()
    sent = client.post(
        "/luxe/preferences/confirm-it-is-you",
        data={"csrf_token": csrf_token(fresh.get_data(True)), "next": "/luxe/preferences/"},
    )
    assert "Check your inbox" in sent.get_data(as_text=True)
    deliver()
    link = magic_link(smtp.to("footer@example.com")[-1])
    page = client.get(path_of(link)).get_data(as_text=True)
    assert client.post(path_of(link), data={"csrf_token": csrf_token(page)}).status_code == 302


def test_opening_a_link_for_someone_else_ends_the_current_session(client, demo, smtp):
    subscribed(client, smtp, "first@example.com")
    subscribed(client, smtp, "second@example.com", brand="vespera")
    sign_in(client, smtp, "first@example.com")
    assert "Camille" in client.get("/luxe/preferences/").get_data(as_text=True)
    request_link(client, "second@example.com")
    deliver()
    link = magic_link(smtp.to("second@example.com")[-1])
    client.get(path_of(link))
    assert client.get("/luxe/preferences/").status_code == 302  # first person signed out


def test_a_manage_token_of_another_group_is_refused(app, client, demo, smtp):
    from portal import tokens

    token = tokens.issue("manage", {"g": demo.id + 1, "s": 1})
    assert client.get(f"/luxe/preferences/manage/{token}").status_code == 400
    assert db.session.query(LedgerEntry).count() == 0
