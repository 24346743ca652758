"""My data in Chromium: edit the profile with and without JavaScript, download, erase, and axe."""

import json
from pathlib import Path

import pytest

from portal.core.people import subjects
from tests.actions import ERASE_LINK, deliver, subscribed
from tests.browser.conftest import axe_violations, sign_in_by_mail
from tests.smtp import text_of

pytestmark = pytest.mark.browser


def _erase_link(smtp, address) -> str:
    deliver()
    return ERASE_LINK.search(text_of(smtp.to(address)[-1])).group(0)


def test_edit_download_and_erase(live_server, page, client, demo, smtp):
    subscribed(client, smtp, "browser@example.com")
    sign_in_by_mail(page, live_server, smtp, "browser@example.com")
    page.get_by_role("link", name="My data").first.click()
    page.get_by_role("heading", name="My data", exact=True).wait_for()
    page.locator("#in-first_name").fill("Aurélie")
    page.get_by_role("button", name="Save my profile").click()
    page.locator("#profile-section .saved").wait_for()  # htmx swapped just this section
    assert page.get_by_role("heading", name="My data", exact=True).is_visible()
    page.reload()
    assert page.locator("#in-first_name").input_value() == "Aurélie"

    with page.expect_download() as info:
        page.get_by_role("link", name="Download as JSON").click()
    download = info.value
    assert download.suggested_filename.startswith("my-data-luxe-")
    data = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert {row["field"]: row["value"] for row in data["profile"]}["first_name"] == "Aurélie"

    page.get_by_role("link", name="Withdraw every consent and erase my data").click()
    page.get_by_role("button", name="Send me the confirmation link").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    page.goto(_erase_link(smtp, "browser@example.com"))
    page.get_by_role("button", name="Erase my data now").click()
    page.get_by_role("heading", name="Your data is erased").wait_for()
    assert subjects.find(demo.id, "browser@example.com") is None
    page.goto(f"{live_server}/luxe/my-data/")
    assert "/preferences/sign-in" in page.url


def test_the_profile_without_javascript(live_server, page_without_js, client, demo, smtp):
    page = page_without_js
    subscribed(client, smtp, "plain@example.com")
    sign_in_by_mail(page, live_server, smtp, "plain@example.com")
    page.goto(f"{live_server}/luxe/my-data/")
    page.locator("#in-mobile_number").fill("+33 1")
    page.get_by_role("button", name="Save my profile").click()
    page.locator("#in-mobile_number[aria-invalid=true]").wait_for()
    page.get_by_role("link", name="Mobile number: This is not a valid phone number").wait_for()
    assert page.locator("#in-mobile_number").input_value() == "+33 1"
    page.locator("#in-mobile_number").fill("+33 6 12 34 56 78")
    page.get_by_role("button", name="Save my profile").click()
    page.locator("#profile-section .saved").wait_for()
    assert page.locator("#in-mobile_number").input_value() == "+33612345678"


@pytest.mark.parametrize("language", ["en", "fr", "de"])
def test_self_service_pages_have_no_accessibility_violations(
    live_server, page, client, demo, smtp, language
):
    address = f"axe-{language}@example.com"
    subscribed(client, smtp, address)
    sign_in_by_mail(page, live_server, smtp, address, language)
    page.goto(f"{live_server}/luxe/my-data/?lang={language}")
    assert axe_violations(page) == [], "my data"
    page.locator("#in-birth_day").fill("31")
    page.locator("#in-birth_month").fill("2")
    page.locator("#in-birth_year").fill("1990")
    page.locator("#profile-section form button[type=submit]").click()
    page.locator("#field-date_of_birth .error").wait_for()
    page.locator("#new-email").fill("nope")
    page.locator("#email-section form button").last.click()
    page.locator("#new-email-error").wait_for()
    assert axe_violations(page) == [], "my data with errors"
    page.goto(f"{live_server}/luxe/my-data/erase?lang={language}")
    assert axe_violations(page) == [], "erase explained"
    page.locator("main form button").click()
    page.locator("main form").wait_for(state="detached")
    assert axe_violations(page) == [], "erase link sent"
    page.goto(_erase_link(smtp, address) + f"?lang={language}")
    assert axe_violations(page) == [], "erase confirmation"
    page.locator("main form button").click()
    page.locator("[role=status] h1").wait_for()
    assert axe_violations(page) == [], "erased"
