"""An owner sets up a new brand with two topics in Chromium and sees its sign-up page live;
axe-core finds no WCAG 2.2 AA violation on the console pages."""

import pytest

from portal.core.console.models import AdminAccount
from portal.core.integrations import clients, webhooks
from portal.core.integrations.models.event import CONSENT_CHANGED
from portal.extensions import db
from tests.actions import code_for, create_owner, decide, sign_up
from tests.browser.conftest import add_topic, axe_violations
from tests.factories import PASSWORD, brand, make_admin

pytestmark = pytest.mark.browser


def _log_in(page, base, account):
    page.goto(f"{base}/admin/")
    page.get_by_label("Email address").fill(account.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(code_for(account))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()


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
    add_topic(page, "letters", "Letters")
    add_topic(page, "events", "Events")
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
        "/admin/group",
        "/admin/forgot",
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
    create_owner(runner, "new@luxe.example")
    page.goto(f"{live_server}/admin/login")
    page.get_by_label("Email address").fill("new@luxe.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Set up two-factor sign-in").wait_for()
    assert page.locator(".qr svg").count() == 1
    assert axe_violations(page) == []
    account = db.session.scalar(db.select(AdminAccount))
    page.get_by_label("Code from your authenticator app").fill(code_for(account))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    assert page.locator(".recovery-codes code").count() == 10
    assert axe_violations(page) == [], "recovery codes"


def test_api_clients_and_support_erasure(live_server, page, client, demo, smtp):
    """Create a client (the key shown once), revoke it, erase a person; axe finds nothing on
    any of the new pages (axe needs JavaScript, so this runs with it on)."""
    made, _ = clients.create("luxe", "CRM", ["events:read"])
    endpoint, _ = webhooks.register(made, "https://hooks.example/", [CONSENT_CHANGED])
    db.session.commit()
    _log_in(page, live_server, make_admin(demo, "owner", "boss@luxe.example"))
    page.get_by_role("link", name="API clients").click()
    assert axe_violations(page) == [], "api clients"
    page.get_by_role("link", name="Add an API client").click()
    page.get_by_role("button", name="Create the client").click()
    page.locator(".error-summary").wait_for()
    assert axe_violations(page) == [], "api client form with errors"
    page.get_by_label("Name").fill("Shop")
    page.get_by_label("consent:read").check()
    page.get_by_label("Camille").check()
    page.get_by_role("button", name="Create the client").click()
    key = page.get_by_label("API key").input_value()
    assert key.startswith("cp_")
    assert axe_violations(page) == [], "key shown once"
    client_page = f"/admin/api-clients/{made.id}"
    for path in (client_page, f"{client_page}/webhooks/{endpoint.id}"):
        page.goto(live_server + path)
        assert axe_violations(page) == [], path
    page.goto(live_server + client_page)
    page.get_by_role("button", name="Rotate the key").click()
    assert page.get_by_label("API key").input_value().startswith("cp_")
    assert axe_violations(page) == [], "new key, the old one still valid"
    page.goto(f"{live_server}{client_page}/retire")
    assert axe_violations(page) == [], "retire question"
    page.goto(f"{live_server}{client_page}/webhooks/{endpoint.id}")
    page.get_by_role("button", name="Send a test ping").click()
    page.get_by_text("A test ping is queued").wait_for()
    assert axe_violations(page) == [], "delivery log after a ping"
    page.goto(f"{live_server}/admin/api-clients/{made.id}/revoke")
    assert axe_violations(page) == [], "revoke question"
    page.get_by_role("button", name="Yes, revoke the client").click()
    page.get_by_text("CRM is revoked: its key no longer works.").wait_for()

    sign_up(client, "ann@example.com")
    decide()  # the worker records the person (unconfirmed) before support can find them
    page.goto(f"{live_server}/admin/support")
    page.get_by_label("Email address").fill("ann@example.com")
    page.get_by_label("Reason for this lookup").fill("letter of 3 March")
    page.get_by_role("button", name="Look up").click()
    page.get_by_role("heading", name="Start an erasure").wait_for()
    assert axe_violations(page) == [], "support with erasure form"
    page.locator("#f-erase-requested_by-letter").check()
    page.get_by_label("Reason for the erasure").fill("letter of 3 March")
    page.get_by_role("button", name="Start an erasure").click()
    page.get_by_role("heading", name="Erase this person?").wait_for()
    assert axe_violations(page) == [], "erasure question"
    page.get_by_role("button", name="Yes, erase this person").click()
    page.get_by_role("heading", name="The person is erased").wait_for()
    assert axe_violations(page) == [], "erased"
    assert "ann@example.com" not in page.content()


def test_recipients_terms_and_erasure_records(live_server, page, demo, smtp):
    """An owner records a client's processing terms; a person is erased, the recipient is
    asked and stays silent past the answer time; the dashboard, the erasures page, the record
    and the person's status page pass axe."""
    from datetime import timedelta

    from portal.core.consent.changes import Origin
    from portal.core.kernel import clock
    from portal.core.people import erasure, self_erasure
    from tests.factories import member

    made, _ = clients.create("luxe", "CRM", ["consent:read"])
    _log_in(page, live_server, make_admin(demo, "owner", "boss@luxe.example"))
    page.get_by_role("link", name="API clients").click()
    page.get_by_role("link", name="Processing terms CRM").click()
    page.get_by_role("heading", name="Processing terms of CRM").wait_for()
    assert axe_violations(page) == [], "terms, none yet"
    page.get_by_role("button", name="Record the terms").click()
    page.locator(".error-summary").wait_for()
    assert axe_violations(page) == [], "terms form with errors"
    page.get_by_label("Terms it agreed to").fill("Marketing only; erased when asked.")
    page.get_by_label("Agreed on").fill("2025-01-15")
    page.get_by_role("button", name="Record the terms").click()
    page.get_by_text("Terms version 1 recorded: CRM receives personal data.").wait_for()
    assert axe_violations(page) == [], "terms recorded"
    assert db.session.get(type(made), made.id).terms_version == 1

    clock.freeze(clock.now() - timedelta(hours=80))  # erased long ago: the CRM never answered
    leaving = member("leaving@example.com")
    record = erasure.erase(leaving, "subject", Origin(source="preference_centre", actor="subject"))
    clock.freeze(None)
    page.goto(f"{live_server}/admin/")
    page.get_by_role("link", name="See the overdue requests").click()
    page.get_by_role("heading", name="Erasures").wait_for()
    assert page.get_by_text("Overdue", exact=True).count() == 1
    assert axe_violations(page) == [], "overdue erasure requests"
    page.get_by_role("link", name="All requests").click()
    assert axe_violations(page) == [], "erasure requests"
    page.goto(f"{live_server}/admin/erasures/{record.id}")
    page.get_by_role("heading", name="Recipients asked to erase their copy").wait_for()
    assert axe_violations(page) == [], "disposal record"
    page.goto(f"{live_server}/admin/")
    assert axe_violations(page) == [], "dashboard with overdue erasures"
    page.goto(f"{live_server}/luxe/my-data/erasure-status/{self_erasure.status_ticket(record)}")
    page.get_by_role("heading", name="Status of an erasure").wait_for()
    assert page.get_by_text("No answer yet: asked again").count() == 1
    assert axe_violations(page) == [], "the person's status page"


def _swatch_colour(page) -> str:
    return page.eval_on_selector(
        "[data-swatch-for=f-colour]", "swatch => getComputedStyle(swatch).backgroundColor"
    )


def test_the_colour_swatch_shows_the_colour_being_typed(live_server, page, demo):
    camille = brand("camille")
    _log_in(page, live_server, make_admin(demo, "owner", "boss@luxe.example"))
    page.goto(f"{live_server}/admin/brands/{camille.id}")
    assert _swatch_colour(page) == "rgb(122, 31, 61)"  # the saved #7a1f3d
    page.get_by_label("Colour").fill("#1f4f5a")
    assert _swatch_colour(page) == "rgb(31, 79, 90)"
    page.get_by_label("Colour").fill("#1f4")  # half typed: the last whole colour stays
    assert _swatch_colour(page) == "rgb(31, 79, 90)"
    page.goto(f"{live_server}/admin/brands/new")  # a new brand: the colour it starts from
    assert _swatch_colour(page) == "rgb(34, 34, 34)"
    page.get_by_label("Colour").fill("#8a6d1f")
    assert _swatch_colour(page) == "rgb(138, 109, 31)"


def test_without_javascript_the_swatch_shows_the_saved_colour(live_server, browser, demo):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    camille = brand("camille")
    _log_in(page, live_server, make_admin(demo, "owner", "boss@luxe.example"))
    page.goto(f"{live_server}/admin/brands/{camille.id}")
    page.get_by_label("Colour").fill("#1f4f5a")
    assert _swatch_colour(page) == "rgb(122, 31, 61)"
    page.goto(f"{live_server}/admin/brands/new")  # nothing saved yet: no swatch to mislead
    assert not page.locator("[data-swatch-for=f-colour]").is_visible()
    context.close()


def test_the_console_shows_dates_in_the_browsers_time_zone(live_server, browser, demo):
    context = browser.new_context(timezone_id="Asia/Tokyo")
    page = context.new_page()
    _log_in(page, live_server, make_admin(demo, "owner", "boss@luxe.example"))
    cookies = {cookie["name"]: cookie["value"] for cookie in context.cookies()}
    assert cookies["tz"] == "Asia/Tokyo"  # any page: timezone.js keeps the browser's zone
    # A browser's first page: the server, not knowing its zone yet, writes the portal's (UTC);
    # timezone.js writes each date again in the browser's zone, named.
    # The signed-in page is closed first: its script could set the cookie again meanwhile.
    page.close()
    context.clear_cookies(name="tz")
    page = context.new_page()
    page.goto(f"{live_server}/admin/account")
    hint = page.locator("#f-time_zone-hint")
    assert "GMT+9" in hint.inner_text() and "UTC" not in hint.inner_text()
    page.reload()  # the cookie is back: the server writes the browser's zone itself
    assert "GMT+09:00" in hint.inner_text()
    context.close()
