"""Changing the address: nothing changes until the new address confirms; no one is revealed."""

from sqlalchemy import select

from portal.core.consent.changes import Origin
from portal.core.consent.models import LedgerEntry
from portal.core.people import erasure, subjects
from portal.core.people.models.erasure import Suppression
from portal.extensions import db
from tests.actions import EMAIL_LINK, PAGE, deliver, link_in, press, signed_in, subscribed
from tests.conftest import csrf_token
from tests.smtp import text_of


def _ask(client, address, **headers):
    html = client.get(PAGE).get_data(as_text=True)
    return client.post(
        f"{PAGE}email", data={"csrf_token": csrf_token(html), "email": address}, headers=headers
    )


def test_the_new_address_confirms_and_the_old_one_is_told(client, demo, smtp):
    signed_in(client, smtp, "old@example.com")
    answer = _ask(client, "New@Example.com")
    assert "We have sent a link to new@example.com" in answer.get_data(as_text=True)
    deliver()
    [notice] = smtp.to("old@example.com")
    assert "new@example.com" in text_of(notice) and "Nothing changes" in text_of(notice)
    [mail] = smtp.to("new@example.com")
    assert "Manage preferences" not in text_of(mail)  # a typo's reader gets no way in
    assert subjects.find(demo.id, "old@example.com") is not None  # nothing changed yet
    assert "Waiting for confirmation: new@example.com" in client.get(PAGE).get_data(True)

    link = link_in(EMAIL_LINK, mail)
    assert client.get(link).status_code == 200  # a mail scanner's GET changes nothing
    done = press(client, link)
    assert "From now on we write to new@example.com" in done.get_data(as_text=True)
    assert subjects.find(demo.id, "old@example.com") is None
    moved = subjects.find(demo.id, "new@example.com")
    assert moved.email == "new@example.com" and moved.email_confirmed_at is not None
    assert client.get(link).status_code == 400  # single use


def test_an_address_of_someone_else_gets_the_same_answer_and_no_link(client, demo, smtp):
    subscribed(client, smtp, "taken@example.com", brand="vespera")
    signed_in(client, smtp, "mover@example.com")
    free = _ask(client, "free@example.com").get_data(as_text=True)
    deliver()  # the worker decides each request: a link to the free address
    taken = _ask(client, "taken@example.com").get_data(as_text=True)
    assert free.replace("free@example.com", "X") == taken.replace("taken@example.com", "X")
    page = client.get(PAGE).get_data(as_text=True)
    assert "Waiting for confirmation: taken@example.com" in page
    deliver()
    [mail] = smtp.to("taken@example.com")
    assert "cannot be used for another one" in text_of(mail)
    assert not EMAIL_LINK.search(text_of(mail))
    assert len(smtp.to("mover@example.com")) == 2  # a notice for each request, alike
    assert subjects.find(demo.id, "mover@example.com") is not None
    # The earlier link, to the free address, was replaced by the newer request.
    assert client.get(link_in(EMAIL_LINK, smtp.to("free@example.com")[0])).status_code == 400


def test_a_bad_or_same_address_is_refused_in_place(client, demo, smtp):
    signed_in(client, smtp, "same@example.com")
    bad = _ask(client, "not an address")
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'value="not an address"' in html and 'aria-invalid="true"' in html
    same = _ask(client, "SAME@example.com", **{"HX-Request": "true"})
    assert same.status_code == 200  # htmx swaps only 2xx answers
    assert "This is already your address" in same.get_data(as_text=True)
    assert same.get_data(as_text=True).startswith('<div id="email-section">')


def test_cancelling_stops_the_link(client, demo, smtp):
    signed_in(client, smtp, "cancel@example.com")
    _ask(client, "other@example.com")
    deliver()
    link = link_in(EMAIL_LINK, smtp.to("other@example.com")[0])
    html = client.get(PAGE).get_data(as_text=True)
    cancelled = client.post(f"{PAGE}email/cancel", data={"csrf_token": csrf_token(html)})
    assert "The change of address is cancelled" in cancelled.get_data(as_text=True)
    assert client.get(link).status_code == 400


def test_confirming_a_suppressed_address_is_a_fresh_opt_in_that_lifts_it(client, demo, smtp):
    subscribed(client, smtp, "erased@example.com")
    erasure.erase(subjects.find(demo.id, "erased@example.com"), "subject", Origin("api", "t"))
    signed_in(client, smtp, "keeper@example.com")
    _ask(client, "erased@example.com")
    deliver()
    assert db.session.scalar(select(Suppression.id)) is not None
    press(client, link_in(EMAIL_LINK, smtp.to("erased@example.com")[-1]))
    assert db.session.scalar(select(Suppression.id)) is None
    last = db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()
    assert last.action == "suppression_lifted" and last.subject_id is not None
