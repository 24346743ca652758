"""An owner sets up a new brand with two topics in Chromium and sees its sign-up page live;
axe-core finds no WCAG 2.2 AA violation on the console pages."""

import pytest

from tests.admin.helpers import PASSWORD, brand, code_for, make_admin
from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser


def _log_in(page, base, account):
    page.goto(f"{base}/admin/")
    page.get_by_label("Email address").fill(account.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(code_for(account))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()


def _add_topic(page, key, name):
    page.get_by_role("link", name="Add a topic").click()
    page.get_by_label("Key").fill(key)
    for language in ("English", "Français", "Deutsch"):
        page.get_by_label(f"Name in {language}").fill(f"{name} ({language})")
    page.get_by_label("Description in English").fill(f"About {name}.")
    page.get_by_role("button", name="Save the topic").click()
    page.get_by_text(f"The topic {name} (English) is added.").wait_for()


def test_an_owner_sets_up_a_brand_with_two_topics(live_server, page, demo):
    _log_in(page, live_server, make_admin(demo, "owner", "boss@luxe.example"))
    page.get_by_role("link", name="Brands", exact=True).click()
    page.get_by_role("link", name="Add a brand").click()
    page.get_by_label("Name", exact=True).fill("Maison Lumen")
    page.get_by_label("Slug").fill("lumen")
    page.get_by_label("Colour").fill("#1f4f5a")
    page.get_by_label("Privacy policy address").fill("https://lumen.example/privacy")
    page.get_by_label("Sender name").fill("Lumen")
    page.get_by_label("Sender address").fill("hello@lumen.example")
    page.get_by_label("Privacy policy version").fill("2026-03")
    page.get_by_role("button", name="Add the brand").click()
    # A consent text is missing: the form says so in place and keeps what was typed.
    page.locator("#f-text_en-error").wait_for()
    assert page.get_by_label("Slug").input_value() == "lumen"
    assert axe_violations(page) == []
    page.get_by_label("Consent text in English").fill("I agree that Lumen may write to me.")
    page.get_by_label("Consent text in Français").fill("J'accepte que Lumen m'écrive.")
    page.get_by_label("Consent text in Deutsch").fill("Ich bin einverstanden.")
    page.get_by_role("button", name="Add the brand").click()
    page.get_by_role("heading", name="Topics and consent texts of Maison Lumen").wait_for()
    _add_topic(page, "letters", "Letters")
    _add_topic(page, "events", "Events")
    assert axe_violations(page) == []
    page.get_by_role("link", name="Live sign-up page").click()
    page.get_by_role("heading", name="Sign up to Maison Lumen").wait_for()
    assert page.get_by_label("Letters (English)").is_visible()
    assert page.get_by_label("Events (English)").is_visible()


def test_console_pages_have_no_accessibility_violations(live_server, page, demo):
    page.goto(f"{live_server}/admin/login")
    assert axe_violations(page) == [], "login"
    owner = make_admin(demo, "owner", "boss@luxe.example")
    _log_in(page, live_server, owner)
    camille = brand("camille")
    paths = [
        "/admin/",
        f"/admin/brands/{camille.id}/figures",
        "/admin/brands",
        "/admin/brands/new",
        f"/admin/brands/{camille.id}",
        f"/admin/brands/{camille.id}/topics",
        f"/admin/topics/{camille.topics[0].id}",
        f"/admin/brands/{camille.id}/texts/new",
        "/admin/support",
        "/admin/audit",
        "/admin/rules",
        "/admin/access-log",
        "/admin/admins",
        f"/admin/admins/{owner.id}",
        "/admin/import",
        "/admin/account",
    ]
    for path in paths:
        page.goto(live_server + path)
        assert axe_violations(page) == [], path
    page.goto(live_server + "/admin/support")
    page.get_by_label("Email address").fill("nobody@example.com")
    page.get_by_role("button", name="Look up").click()
    page.locator(".error-summary").wait_for()
    assert axe_violations(page) == [], "support with errors"


def test_enrolment_page_is_accessible(live_server, page, demo, runner):
    runner.invoke(
        args=[
            "admins",
            "create-owner",
            "--group",
            "luxe",
            "--email",
            "new@luxe.example",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
    )
    page.goto(f"{live_server}/admin/login")
    page.get_by_label("Email address").fill("new@luxe.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Set up two-factor sign-in").wait_for()
    assert page.locator(".qr svg").count() == 1
    assert axe_violations(page) == []
