"""Every bad input gets a message in place, keeps what was typed, and changes nothing."""

import pytest
from sqlalchemy import func, select

from portal.core.consent.models import LedgerEntry
from portal.core.mail.models import OutboxMessage
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.actions import sign_up


def _nothing_written():
    for model in (Subject, LedgerEntry, OutboxMessage):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0


@pytest.mark.parametrize(
    "address, message",
    [
        ("", "Enter your email address."),
        ("   ", "Enter your email address."),
        ("not-an-address", "Enter a valid email address"),
        ("a@b", "Enter a valid email address"),
        ("x" * 250 + "@example.com", "The address is too long (254 characters at most)."),
        ("ann@example.com\r\nBcc: all@example.com", "The address must not contain line breaks."),
        ("ann@example.com\n", "The address must not contain line breaks."),
    ],
)
def test_bad_address(client, demo, address, message):
    answer = sign_up(client, address)
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert message in html
    assert 'aria-invalid="true" aria-describedby="email-error"' in html
    _nothing_written()


def test_no_topic_ticked_keeps_the_address(client, demo):
    answer = sign_up(client, "keep@example.com", topics=[])
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "Choose at least one topic." in html
    assert 'value="keep@example.com"' in html
    _nothing_written()


def test_topic_of_another_brand_is_refused(client, demo):
    aurele = client.get("/luxe/join/aurele").get_data(as_text=True)
    foreign = int(aurele.split('name="topics" value="')[1].split('"')[0])
    answer = sign_up(client, "x@example.com", topics=[foreign])
    assert answer.status_code == 422
    assert "not offered here" in answer.get_data(as_text=True)
    _nothing_written()


def test_non_numeric_topic_is_refused(client, demo):
    answer = sign_up(client, "x@example.com", topics=["1; DROP TABLE subject"])
    assert answer.status_code == 422
    _nothing_written()


def test_consent_text_of_another_brand_is_refused(client, demo):
    aurele = client.get("/luxe/join/aurele").get_data(as_text=True)
    foreign = aurele.split('name="text_version" value="')[1].split('"')[0]
    answer = sign_up(client, "x@example.com", text_version=foreign)
    assert answer.status_code == 422
    assert "This form is out of date" in answer.get_data(as_text=True)
    _nothing_written()


def test_markup_is_shown_escaped(client, demo):
    answer = sign_up(client, '<script>alert(1)</script>"@example.com', topics=[])
    html = answer.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_unknown_brand_and_group_get_the_neutral_404(client, demo):
    for url in ("/luxe/join/nobody", "/nowhere/join/camille", "/nowhere/"):
        page = client.get(url)
        assert page.status_code == 404
        html = page.get_data(as_text=True)
        assert "Page not found" in html
        assert "brand-banner" not in html


def test_missing_csrf_token_gets_a_page_not_a_500(client, demo):
    answer = client.post("/luxe/join/camille", data={"email": "a@example.com", "topics": [1]})
    assert answer.status_code == 400
    assert "This form has expired" in answer.get_data(as_text=True)
