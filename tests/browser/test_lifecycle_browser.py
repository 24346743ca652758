"""Lifecycle reminders' pages in Chromium: links from the real mails, buttons that act only
on POST, a refused form that keeps what was typed, and axe. The pages are plain forms."""

import re
from datetime import timedelta

import pytest

from portal.core.kernel import clock
from portal.core.lifecycle import run
from tests.actions import deliver
from tests.browser.conftest import axe_violations
from tests.lifecycle.factories import PARIS, START, member
from tests.smtp import text_of

pytestmark = pytest.mark.browser


def _links(demo, smtp) -> dict[str, str]:
    clock.freeze(START)
    member("reader@example.com", postal=PARIS)
    clock.freeze(START + timedelta(days=550))
    run.run(demo)
    deliver()
    text = "\n".join(text_of(mail) for mail in smtp.to("reader@example.com"))
    return {
        kind: re.search(rf"https?://\S+/{kind}/\S+", text).group(0)
        for kind in ("still-right", "details", "keep")
    }


def test_reminder_pages_pass_axe_and_keep_what_was_typed(live_server, page, demo, smtp):
    links = _links(demo, smtp)

    page.goto(links["still-right"])
    page.get_by_role("heading", name="Is this still right?").wait_for()
    assert "1 rue de Rivoli" in page.content()
    assert axe_violations(page) == []

    page.goto(links["details"])
    page.locator("#postal_postcode").fill("")
    page.locator("#postal_line1").fill("8 quai des Brumes")
    page.get_by_role("button", name="Save").click()
    page.locator("#postal_postcode-error").wait_for()
    assert page.locator("#postal_line1").input_value() == "8 quai des Brumes"
    assert page.locator("#postal_postcode").get_attribute("aria-invalid") == "true"
    assert axe_violations(page) == []
    page.locator("#postal_postcode").fill("69002")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("heading", name="Thank you").wait_for()
    assert axe_violations(page) == []

    page.goto(links["keep"] + "?lang=fr")
    page.get_by_role("heading", name="Conserver vos abonnements").wait_for()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Conserver mes abonnements").click()
    page.get_by_role("heading", name="Merci").wait_for()
    assert axe_violations(page) == []
