"""Confirmation links: once only, expiring, tamper-evident, bound to their group."""

from datetime import timedelta

from sqlalchemy import select

from portal.core.kernel import clock
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.actions import confirm, confirmation_link, deliver, path_of, sign_up
from tests.conftest import csrf_token


def _link(client, smtp, address="token@example.com"):
    sign_up(client, address)
    deliver()
    return confirmation_link(smtp.to(address)[-1])


def test_second_use_says_already_confirmed(client, demo, smtp):
    link = _link(client, smtp)
    assert "Thank you" in confirm(client, link).get_data(as_text=True)
    again = client.get(path_of(link))
    assert again.status_code == 200
    assert "Already confirmed" in again.get_data(as_text=True)


def test_expired_link_offers_a_new_one_that_works(client, demo, smtp):
    link = _link(client, smtp)
    clock.freeze(clock.now() + timedelta(hours=49))
    page = client.get(path_of(link))
    assert page.status_code == 410
    html = page.get_data(as_text=True)
    assert "This link has expired" in html
    # Posting the expired link does not confirm it.
    assert client.post(path_of(link), data={"csrf_token": csrf_token(html)}).status_code == 410
    resent = client.post(path_of(link) + "/resend", data={"csrf_token": csrf_token(html)})
    assert "a new link is on its way" in resent.get_data(as_text=True)
    smtp.clear()
    deliver()
    fresh = confirmation_link(smtp.messages[0])
    assert "Thank you" in confirm(client, fresh).get_data(as_text=True)
    assert db.session.scalar(select(Subject)).status == "active"


def test_tampered_link_gets_a_clear_400(client, demo, smtp):
    link = _link(client, smtp)
    broken = path_of(link)[:-3] + ("AAA" if not path_of(link).endswith("AAA") else "BBB")
    page = client.get(broken)
    assert page.status_code == 400
    assert "This confirmation link is not valid" in page.get_data(as_text=True)
    assert client.get("/luxe/confirm/not-a-token").status_code == 400


def test_confirm_is_only_by_post_with_the_form_token(client, demo, smtp):
    link = _link(client, smtp)
    forged = client.post(path_of(link), data={})
    assert forged.status_code == 400
    assert "This form has expired" in forged.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(Subject)).status == "pending"
