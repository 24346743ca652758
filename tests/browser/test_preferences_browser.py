"""The preference centre in Chromium: magic link from the SMTP server, toggles with and
without JavaScript, the one-click POST of a mail's header, bad links, and axe."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.core.kernel import clock
from portal.core.kernel.models.group import Brand, Topic
from portal.extensions import db
from tests.actions import deliver, magic_link, one_click_url, send_topic, subscribed
from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser


def _topic_id(key: str, brand: str = "camille") -> int:
    return db.session.scalar(
        select(Topic.id).join(Brand).where(Brand.slug == brand, Topic.key == key)
    )


def _request_link(page, base, smtp, address) -> str:
    smtp.clear()
    page.goto(f"{base}/luxe/join/camille")
    page.locator("header .account a").click()  # "Manage my preferences", in any language
    page.locator("#email").fill(address)
    page.locator("#sign-in form button").click()
    page.locator("#sign-in form").wait_for(state="detached")  # "Check your inbox"
    deliver()
    return magic_link(smtp.to(address)[-1])


def _news_unsubscribe_url(runner, tmp_path, smtp, address) -> str:
    """Send camille's news and return the one-click unsubscribe address it gave ``address``."""
    result = send_topic(runner, tmp_path, "News", "News from the house.")
    assert result.exit_code == 0, result.output
    deliver()
    [mail] = [m for m in smtp.to(address) if m["Subject"] == "News"]
    return one_click_url(mail)


def _sign_in(page, base, smtp, address):
    page.goto(_request_link(page, base, smtp, address))
    page.get_by_role("button", name="Open my preferences").click()
    page.get_by_role("heading", name="My preferences").wait_for()


def test_toggle_with_javascript_survives_a_reload(live_server, page, client, demo, smtp):
    subscribed(client, smtp, "js@example.com")
    _sign_in(page, live_server, smtp, "js@example.com")
    row = f"{_topic_id('journal', 'vespera')}-email"
    page.locator("#house-vespera > summary").click()  # each house opens on demand
    page.locator(f"#c-{row}").check()
    page.locator(f"#row-{row} .saved").wait_for()  # htmx swapped just this row
    page.reload()
    page.locator("#house-vespera > summary").click()
    assert page.locator(f"#c-{row}").is_checked()
    assert "in your preference centre on Vespera" in page.locator(f"#since-{row}").inner_text()


def test_the_same_without_javascript(live_server, page_without_js, client, demo, smtp):
    page = page_without_js
    subscribed(client, smtp, "nojs@example.com")
    _sign_in(page, live_server, smtp, "nojs@example.com")
    row = f"{_topic_id('news')}-email"
    page.locator(f"#c-{row}").uncheck()
    page.get_by_role("button", name="Save my choices").click()
    page.get_by_text("Your choices are saved.").wait_for()
    page.goto(f"{live_server}/luxe/preferences/")
    assert not page.locator(f"#c-{row}").is_checked()


def test_the_one_click_post_from_a_mail_header(
    live_server, page, runner, client, demo, smtp, tmp_path
):
    subscribed(client, smtp, "header@example.com")
    url = _news_unsubscribe_url(runner, tmp_path, smtp, "header@example.com")
    # What a mailbox provider does: a POST with that body, no cookie, no redirect followed.
    answer = page.request.post(url, form={"List-Unsubscribe": "One-Click"}, max_redirects=0)
    assert answer.status == 200
    page.goto(url)  # the person opening the link later sees it is done
    assert "You no longer receive" in page.locator("main").inner_text()


def test_expired_reused_and_tampered_links(live_server, page, client, demo, smtp):
    subscribed(client, smtp, "links@example.com")
    _sign_in(page, live_server, smtp, "links@example.com")
    link = magic_link(smtp.to("links@example.com")[-1])
    page.goto(link)
    assert "already been used" in page.locator("main").inner_text()
    page.goto(link[:-4] + "AAAA")
    assert "not valid" in page.locator("main").inner_text()
    page.get_by_role("button", name="Sign out").click()
    fresh = _request_link(page, live_server, smtp, "links@example.com")
    clock.freeze(clock.now() + timedelta(minutes=31))
    page.goto(fresh)
    assert "has expired" in page.locator("main").inner_text()
    page.get_by_role("link", name="Send me a new link").click()
    page.get_by_label("Email address").wait_for()


@pytest.mark.parametrize("language", ["en", "fr", "de"])
def test_centre_and_unsubscribe_pages_have_no_accessibility_violations(
    live_server, page, runner, client, demo, smtp, tmp_path, language
):
    subscribed(client, smtp, "axe@example.com")
    page.goto(f"{live_server}/luxe/preferences/sign-in?lang={language}")
    assert axe_violations(page) == []
    page.goto(_request_link(page, live_server, smtp, "axe@example.com"))
    page.locator("form button.button").click()
    page.wait_for_url("**/preferences/")
    page.goto(f"{live_server}/luxe/preferences/?lang={language}")
    assert axe_violations(page) == [], "centre"
    sms = f"{_topic_id('events')}-sms"
    page.locator(f"#c-{sms}").check()  # asks for the number in place
    page.locator(f"#mobile_number-{sms}").wait_for()
    page.locator(f"#row-{sms} button").click()  # empty number: the error state
    page.locator(f"#mobile_number-{sms}[aria-invalid=true]").wait_for()
    assert axe_violations(page) == [], "centre asking for a number"
    page.goto(f"{live_server}/luxe/preferences/leave/camille?lang={language}")
    assert axe_violations(page) == [], "unsubscribe from a brand"
    url = _news_unsubscribe_url(runner, tmp_path, smtp, "axe@example.com")
    page.goto(f"{url}?lang={language}")
    assert axe_violations(page) == [], "one-click confirmation page"
    page.locator("form button").click()
    page.locator("[role=status]").wait_for()
    assert axe_violations(page) == [], "unsubscribed page"
