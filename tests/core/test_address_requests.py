"""Requests naming an address do the same work whoever holds it; the worker decides the mail.

The request path (sign-up, magic link, address change) is compared statement by statement and
template by template for known and unknown addresses: a deterministic stand-in for "the same
time". What people get
is checked through the real SMTP sink once the worker has run.
"""

from datetime import timedelta

from flask import template_rendered
from sqlalchemy import event, func, select

from portal.core.consent import signup
from portal.core.consent.changes import Origin
from portal.core.kernel import clock
from portal.core.mail import address_requests
from portal.core.mail.models import AddressRequest
from portal.core.people import erasure, subjects
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.actions import (
    EMAIL_LINK,
    PAGE,
    TEXT_VERSION,
    TOPIC,
    confirmation_link,
    deliver,
    request_link,
    sign_up,
    signed_in,
    signup_page,
    subscribed,
)
from tests.conftest import csrf_token
from tests.smtp import text_of


def statements_of(send) -> list[str]:
    """The work ``send()`` (one request) does, from a fresh session: the SQL statements it
    runs and the templates it renders (a mail composed in the request shows there), in order."""
    seen = []

    def note(_conn, _cursor, statement, *_args):
        seen.append(statement)

    def rendered(_app, template, **_extra):
        seen.append(f"template {template.name}")

    db.session.remove()
    event.listen(db.engine, "before_cursor_execute", note)
    template_rendered.connect(rendered)
    try:
        response = send()
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
        template_rendered.disconnect(rendered)
    assert response.status_code == 200, response.status_code
    return seen


def _sign_up_statements(client, email):
    page = signup_page(client).get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "email": email,
        "topics": [int(t) for t in TOPIC.findall(page)][:2],
        "text_version": TEXT_VERSION.search(page).group(1),
    }
    return statements_of(lambda: client.post("/luxe/join/camille", data=data))


def test_sign_up_does_the_same_statements_for_new_pending_and_active_addresses(client, demo, smtp):
    subscribed(client, smtp, "active@example.com")
    sign_up(client, "pending@example.com")
    deliver()
    _sign_up_statements(client, "warm@example.com")  # first-request caches
    new = _sign_up_statements(client, "new@example.com")
    assert new, "the sign-up ran no statement at all"
    assert _sign_up_statements(client, "pending@example.com") == new
    assert _sign_up_statements(client, "active@example.com") == new
    assert _sign_up_statements(client, "another-new@example.com") == new


def _link_statements(client, email):
    page = client.get("/luxe/preferences/sign-in").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "email": email}
    return statements_of(lambda: client.post("/luxe/preferences/sign-in", data=data))


def test_magic_link_request_does_the_same_statements_for_known_and_unknown(client, demo, smtp):
    subscribed(client, smtp, "known@example.com")
    _link_statements(client, "warm@example.com")
    unknown = _link_statements(client, "unknown@example.com")
    assert _link_statements(client, "known@example.com") == unknown
    assert _link_statements(client, "unknown-too@example.com") == unknown


def _change_statements(client, email):
    page = client.get(PAGE).get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "email": email}
    return statements_of(lambda: client.post(f"{PAGE}email", data=data))


def test_address_change_does_the_same_statements_for_a_free_and_a_taken_address(client, demo, smtp):
    subscribed(client, smtp, "taken@example.com", brand="vespera")
    signed_in(client, smtp, "mover@example.com")
    _change_statements(client, "warm@example.com")
    free = _change_statements(client, "free@example.com")
    assert _change_statements(client, "taken@example.com") == free
    assert _change_statements(client, "free-too@example.com") == free


def _subjects() -> int:
    return db.session.scalar(select(func.count()).select_from(Subject))


def test_the_worker_sends_the_mail_each_sign_up_calls_for(client, demo, smtp):
    subscribed(client, smtp, "active@example.com")
    sign_up(client, "pending@example.com")
    deliver()
    smtp.clear()
    clock.freeze(clock.now() + timedelta(minutes=5))  # later: not a double click of the first
    before = _subjects()
    for email in ("new@example.com", "pending@example.com", "active@example.com"):
        sign_up(client, email)
    assert _subjects() == before  # the requests decided nothing yet
    assert smtp.messages == []
    deliver()
    assert _subjects() == before + 1
    [new] = smtp.to("new@example.com")
    [pending] = smtp.to("pending@example.com")
    [active] = smtp.to("active@example.com")
    assert new["Subject"] == pending["Subject"] == "Please confirm your subscription to Camille"
    assert active["Subject"] == "You are already registered with Camille"
    # Double opt-in as before: the new address confirms through its link.
    done = client.get(confirmation_link(new).split("portal.test")[1])
    assert "Confirm your subscription" in done.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(AddressRequest)) == 0


def test_the_worker_mails_a_magic_link_only_to_a_known_address(client, demo, smtp):
    subscribed(client, smtp, "known@example.com")
    request_link(client, "known@example.com")
    request_link(client, "unknown@example.com")
    assert smtp.messages == []
    deliver()
    assert [m["To"] for m in smtp.messages] == ["known@example.com"]
    assert "manage your preferences" in smtp.messages[0]["Subject"]
    assert subjects.find(demo.id, "unknown@example.com") is None


def test_the_worker_mails_a_link_or_a_refusal_for_an_address_change(client, demo, smtp):
    subscribed(client, smtp, "taken@example.com", brand="vespera")
    signed_in(client, smtp, "mover@example.com")
    for email in ("free@example.com", "taken@example.com"):
        page = client.get(PAGE).get_data(as_text=True)
        client.post(f"{PAGE}email", data={"csrf_token": csrf_token(page), "email": email})
        deliver()
    [link] = smtp.to("free@example.com")
    assert EMAIL_LINK.search(text_of(link))
    [refusal] = smtp.to("taken@example.com")
    assert not EMAIL_LINK.search(text_of(refusal))
    assert len(smtp.to("mover@example.com")) == 2  # a notice for each request


def test_an_erasure_drops_what_still_waits_for_the_address(client, demo, smtp):
    subscribed(client, smtp, "leaving@example.com")
    request_link(client, "leaving@example.com")
    subject = subjects.find(demo.id, "leaving@example.com")
    erasure.erase(subject, "subject", Origin("self_service", "subject"))
    assert db.session.scalar(select(func.count()).select_from(AddressRequest)) == 0
    smtp.clear()
    deliver()
    [farewell] = smtp.to("leaving@example.com")  # no sign-in link, only the last mail
    assert farewell["Subject"].startswith("Your data has been erased")


def test_a_request_the_worker_cannot_decide_waits_for_a_retry(client, demo, smtp, monkeypatch):
    real = address_requests._HANDLERS[signup.SIGN_UP]
    calls = []

    def failing_once(*args):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        return real(*args)

    monkeypatch.setitem(address_requests._HANDLERS, signup.SIGN_UP, failing_once)
    sign_up(client, "patient@example.com")
    result = deliver()
    assert result.retrying == 1 and smtp.messages == []
    row = db.session.scalar(select(AddressRequest))
    assert row.attempts == 1 and row.last_error == "RuntimeError"
    row.next_attempt_at = row.created_at  # its back-off has passed
    db.session.commit()
    assert deliver().decided == 1
    [mail] = smtp.to("patient@example.com")
    assert mail["Subject"] == "Please confirm your subscription to Camille"


def test_a_request_of_an_unknown_kind_is_kept_not_lost(app, demo):
    with app.test_request_context():
        address_requests.record("nonsense", demo.id, "someone@example.com")
        db.session.commit()
    assert deliver().retrying == 1
    assert db.session.scalar(select(AddressRequest.last_error)) == "LookupError"
