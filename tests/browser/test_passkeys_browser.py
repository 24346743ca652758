"""Passkeys in Chromium with a virtual authenticator (the DevTools protocol's WebAuthn domain):
add one, sign out, sign in with it, confirm it is you with it, remove it, see it refused; the
pages without JavaScript; and axe at a desktop and a phone width."""

import contextlib

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from portal.core.mail import mails
from portal.core.people import subjects
from tests.actions import subscribed
from tests.browser.conftest import axe_violations, sign_in_by_mail

pytestmark = pytest.mark.browser
WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}


@pytest.fixture
def site(live_server, app):
    """The live server as http://localhost: WebAuthn needs a secure context and a relying party
    id that is a domain (an IP address is refused), and loopback names count as secure."""
    base = live_server.replace("127.0.0.1", "localhost")
    app.config["PORTAL_BASE_URL"] = base
    return base


def authenticator(page) -> tuple:
    """A platform authenticator that keeps discoverable credentials and verifies its user."""
    devtools = page.context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    added = devtools.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return devtools, added["authenticatorId"]


def credentials(devtools, authenticator_id) -> list:
    return devtools.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})[
        "credentials"
    ]


def add_passkey(page, base, name, language="en"):
    page.goto(f"{base}/luxe/preferences/passkeys/?lang={language}")
    page.locator("#passkey-name").fill(name)
    page.locator("#passkey-add button").click()
    page.wait_for_url("**/passkeys/?done=added")


def sign_out(page):
    page.locator("header .account button").click()
    page.wait_for_url("**/preferences/sign-out")  # the page before had a heading too


def test_add_sign_in_confirm_remove_and_be_refused(site, page, client, demo, smtp):
    devtools, device = authenticator(page)
    subscribed(client, smtp, "touch@example.com")
    sign_in_by_mail(page, site, smtp, "touch@example.com")
    page.get_by_role("link", name="add a passkey").click()
    page.get_by_role("heading", name="Passkeys", exact=True).wait_for()
    assert page.get_by_text("You have no passkey yet.").is_visible()
    page.get_by_label("Name of this passkey").fill("This laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_text("Your passkey is added.").wait_for()
    assert page.locator("table.passkeys td").first.inner_text() == "This laptop"
    [credential] = credentials(devtools, device)
    assert credential["isResidentCredential"] is True and credential["rpId"] == "localhost"

    sign_out(page)
    page.goto(f"{site}/luxe/preferences/sign-in")
    # The page also offers the passkey by autofill (conditional UI), which the virtual
    # authenticator may answer by itself before the button is pressed: either way signs in.
    with contextlib.suppress(PlaywrightTimeoutError):  # gone: autofill signed in (next line)
        page.get_by_role("button", name="Sign in with a passkey").click(timeout=3000)
    page.wait_for_url("**/luxe/preferences/")
    page.goto(f"{site}/luxe/my-data/")  # a sensitive page opens: the passkey is a fresh proof
    page.get_by_role("heading", name="My data", exact=True).wait_for()
    assert page.locator("table.passkeys td").first.inner_text() == "This laptop"

    # The footer link of a mail gives subscriptions only; the passkey confirms it is you.
    sign_out(page)
    footer = mails.manage_token(subjects.find(demo.id, "touch@example.com"))
    page.goto(f"{site}/luxe/preferences/manage/{footer}")
    page.get_by_role("button", name="Open my preferences").click()
    page.wait_for_url("**/luxe/preferences/")
    page.goto(f"{site}/luxe/my-data/")
    page.get_by_role("heading", name="Confirm it is you").wait_for()
    page.get_by_role("button", name="Confirm with a passkey").click()
    page.get_by_role("heading", name="My data", exact=True).wait_for()

    page.goto(f"{site}/luxe/preferences/passkeys/")
    page.get_by_role("button", name="Remove This laptop").click()
    page.get_by_text("The passkey is removed").wait_for()
    assert page.get_by_text("You have no passkey yet.").is_visible()
    assert len(credentials(devtools, device)) == 1  # still on the device, no longer accepted

    sign_out(page)
    page.goto(f"{site}/luxe/preferences/sign-in")
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.get_by_text("This passkey is not known here").wait_for()
    page.goto(f"{site}/luxe/my-data/")
    assert "/preferences/sign-in" in page.url


def test_without_javascript_the_link_remains(site, page_without_js, client, demo, smtp):
    page = page_without_js
    subscribed(client, smtp, "plain@example.com")
    page.goto(f"{site}/luxe/preferences/sign-in")
    assert not page.get_by_role("button", name="Sign in with a passkey").is_visible()
    assert page.get_by_role("button", name="Send me a link").is_visible()
    sign_in_by_mail(page, site, smtp, "plain@example.com")
    page.goto(f"{site}/luxe/preferences/passkeys/")
    assert page.get_by_text("Adding a passkey needs JavaScript").is_visible()
    assert not page.get_by_role("button", name="Add a passkey").is_visible()


@pytest.mark.parametrize(
    ("width", "language"), [("desktop", "en"), ("phone", "en"), ("desktop", "de"), ("phone", "fr")]
)
def test_passkey_pages_have_no_accessibility_violations(
    site, page, client, demo, smtp, width, language
):
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[width], strict=True)))
    authenticator(page)
    address = f"axe-{width}-{language}@example.com"
    subscribed(client, smtp, address)
    page.goto(f"{site}/luxe/preferences/sign-in?lang={language}")
    page.locator("[data-passkey] button").wait_for()
    assert axe_violations(page) == [], "sign-in with the passkey button"
    sign_in_by_mail(page, site, smtp, address, language)
    page.goto(f"{site}/luxe/preferences/passkeys/?lang={language}")
    page.locator("#passkey-add button").wait_for()
    assert axe_violations(page) == [], "no passkey yet"
    page.locator("#passkey-add button").click()  # no name
    page.locator("#passkey-name[aria-invalid=true]").wait_for()
    assert axe_violations(page) == [], "name refused"
    add_passkey(page, site, "Mon téléphone", language)
    assert axe_violations(page) == [], "passkey added"
    page.goto(f"{site}/luxe/my-data/?lang={language}")
    assert axe_violations(page) == [], "my data with a passkey"
    sign_out(page)
    footer = mails.manage_token(subjects.find(demo.id, address))
    page.goto(f"{site}/luxe/preferences/manage/{footer}")
    # The page speaks the language chosen above: the button is found by its form, not its words.
    page.locator(f"form[action$='{footer}'] button[type=submit]").click()
    page.wait_for_url("**/luxe/preferences/")
    page.goto(f"{site}/luxe/preferences/confirm-it-is-you?lang={language}")
    page.locator("[data-passkey] button").wait_for()
    assert axe_violations(page) == [], "confirm it is you with a passkey"
