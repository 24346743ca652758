"""A person signs up in Chromium, reads the mail from the SMTP server and confirms."""

import pytest

from tests.actions import confirmation_link, deliver
from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser


def _sign_up(page, base, address):
    page.goto(f"{base}/luxe/")
    page.get_by_role("link", name="Sign up to Camille").click()
    page.get_by_label("Email address").fill(address)
    page.get_by_label("News").check()
    page.get_by_label("The journal").check()
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()


def _confirm(page, smtp, address):
    deliver()
    page.goto(confirmation_link(smtp.to(address)[0]))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name="Thank you, you are subscribed").wait_for()


def test_sign_up_read_the_mail_and_confirm(live_server, page, demo, smtp):
    _sign_up(page, live_server, "browser@example.com")
    assert page.url.endswith("/luxe/join/camille")  # htmx swapped the form in place
    _confirm(page, smtp, "browser@example.com")


def test_the_same_without_javascript(live_server, page_without_js, demo, smtp):
    _sign_up(page_without_js, live_server, "nojs@example.com")
    _confirm(page_without_js, smtp, "nojs@example.com")


def test_errors_are_shown_in_place_and_tied_to_the_field(live_server, page, demo):
    page.goto(f"{live_server}/luxe/join/camille")
    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Sign up").click()
    error = page.locator("#email-error")
    error.wait_for()
    assert "Enter a valid email address" in error.inner_text()
    assert page.get_by_label("Email address").get_attribute("aria-describedby") == "email-error"
    assert page.get_by_label("Email address").input_value() == "not an address"


@pytest.mark.parametrize("language", ["en", "fr", "de"])
def test_signup_and_home_pages_have_no_accessibility_violations(live_server, page, demo, language):
    for path in (f"/luxe/?lang={language}", f"/luxe/join/camille?lang={language}"):
        page.goto(live_server + path)
        assert axe_violations(page) == [], path
    page.get_by_role("button").last.click()  # send the empty form: the error state too
    page.locator(".error").first.wait_for()
    assert axe_violations(page) == []
