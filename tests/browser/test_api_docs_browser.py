"""The API reference page is readable and accessible, with and without JavaScript."""

import pytest

from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser


def test_the_api_reference_passes_axe(page, live_server):
    page.goto(f"{live_server}/api/v1/docs")
    page.get_by_role("heading", name="API reference").wait_for()
    page.get_by_role("link", name="POST /api/v1/consents/lookup").click()
    assert axe_violations(page) == []
    page.goto(f"{live_server}/api/v1/docs?lang=de")
    page.get_by_role("heading", name="API-Referenz").wait_for()
