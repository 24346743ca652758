"""An owner raises the policy version with "ask again" in Chromium, confirms the count and
watches the job finish as the worker runs its batches; the job page passes axe."""

import pytest
from playwright.sync_api import expect

from portal.core.kernel import heartbeat, jobs
from tests.browser.conftest import axe_violations
from tests.browser.test_admin_browser import _log_in
from tests.factories import make_admin, member, topic

pytestmark = pytest.mark.browser


@pytest.mark.each_database  # the worker's lease and SKIP LOCKED are the database's part
def test_an_owner_raises_the_policy_and_watches_the_job_finish(app, live_server, page, demo):
    app.config["JOB_BATCH_SIZE"] = 2
    for n in range(3):
        member(f"fan{n}@example.com")
    _log_in(page, live_server, make_admin(demo, "owner", "boss@luxe.example"))
    page.get_by_role("link", name="Brands", exact=True).click()
    page.get_by_role("link", name="Topics and texts Camille").click()
    page.get_by_label("New version").fill("2026-09")
    page.get_by_label("Ask existing subscribers to confirm again by mail").check()
    page.get_by_role("button", name="Raise the policy version").click()
    page.get_by_text("This mails 3 people, asking them to confirm their consents again.").wait_for()
    assert axe_violations(page) == [], "confirmation"
    page.get_by_role("button", name="Mail 3 people").click()
    page.get_by_role("heading", name="Asking subscribers to confirm again").wait_for()
    progress = page.locator("#job-progress")
    assert "Waiting for the worker" in progress.inner_text()
    assert axe_violations(page) == [], "job page"
    heartbeat.beat("worker")
    jobs.work_once("worker")  # the worker's first batch; the page follows on its own
    progress.get_by_text("Running", exact=True).wait_for()
    # The page may have looked while the batch was under way ("Running", nothing done yet):
    # it looks again on its own until the batch's two show.
    expect(progress.locator("#job-bar")).to_have_attribute("value", "2", timeout=15000)
    assert "Left\n1" in progress.inner_text() or "Left 1" in progress.inner_text()
    jobs.work_once("worker")
    progress.get_by_text("Finished", exact=True).wait_for()
    assert page.locator("#job-bar").get_attribute("value") == "3"
    assert axe_violations(page) == [], "job finished"


def test_without_javascript_the_job_page_refreshes_itself(app, live_server, page_without_js, demo):
    member("fan@example.com")
    page = page_without_js
    _log_in(page, live_server, make_admin(demo, "owner", "boss@luxe.example"))
    page.get_by_role("link", name="Brands", exact=True).click()
    page.get_by_role("link", name="Topics and texts Camille").click()
    page.get_by_label("New version").fill("2026-09")
    page.get_by_label("Ask existing subscribers to confirm again by mail").check()
    page.get_by_role("button", name="Raise the policy version").click()
    page.get_by_role("button", name="Mail 1 person").click()
    page.get_by_text("Waiting for the worker").wait_for()
    jobs.run_all("worker")
    page.get_by_role("link", name="Refresh").click()
    page.get_by_text("Finished").wait_for()


def test_the_new_console_pages_pass_axe(app, live_server, page, demo):
    member("fan@example.com")
    _log_in(page, live_server, make_admin(demo, "owner", "boss@luxe.example"))
    news = topic("news")
    for path in ("/admin/jobs", "/admin/health", f"/admin/topics/{news.id}/mail"):
        page.goto(live_server + path)
        assert axe_violations(page) == [], path
    page.get_by_role("button", name="Check how many people it reaches").click()
    page.locator(".error-summary").wait_for()
    assert axe_violations(page) == [], "topic mail with errors"
    page.get_by_label("Subject").fill("News")
    page.get_by_label("Text").fill("Hello.")
    page.get_by_role("button", name="Check how many people it reaches").click()
    page.get_by_text("This mails 1 person.").wait_for()
    assert axe_violations(page) == [], "topic mail confirmation"
    page.get_by_role("button", name="Mail 1 person").click()
    page.get_by_role("heading", name="Topic mail").wait_for()
    page.goto(live_server + "/admin/import")
    page.get_by_text("The columns of the file").click()
    assert axe_violations(page) == [], "import help open"
