"""The retention rules in the console: settings, a preview of each rule, audited changes."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.core.console.models import AuditEntry
from portal.core.kernel import clock
from portal.core.kernel.models.job import Job
from portal.core.lifecycle import previews
from portal.core.lifecycle.policy import policy_of
from portal.extensions import db
from tests import actions
from tests.actions import decide, deliver, log_in, post, sign_up
from tests.conftest import csrf_token
from tests.factories import START, count, make_admin


def test_owner_sees_each_rule_with_its_preview_and_changes_it(client, demo, smtp):
    sign_up(client, "waiting@example.com")  # one unconfirmed sign-up, not yet due
    log_in(client, make_admin(demo, "owner"))
    page = client.get("/admin/rules").get_data(as_text=True)
    assert "Unconfirmed sign-ups are deleted" in page and 'value="30"' in page
    answer = post(
        client,
        "/admin/rules",
        {
            "unconfirmed_days": "7",
            "dormant_months": "",
            "repermission_months": "18",
            "repermission_answer_days": "30",
            "former_customer_months": "12",
            "reconfirm_postal_address": "24",
        },
    )
    assert answer.status_code == 302
    db.session.expire_all()
    rules = policy_of(demo)
    assert (rules.unconfirmed_days, rules.dormant_months) == (7, None)
    assert rules.reconfirm_months == {"postal_address": 24}
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "lifecycle.update"))
    assert entry.before["unconfirmed_days"] == 30 and entry.after["unconfirmed_days"] == 7
    assert "off" in client.get("/admin/rules").get_data(as_text=True)  # dormant is now off


def test_a_bad_value_is_refused_in_place_and_nothing_changes(client, demo):
    log_in(client, make_admin(demo, "owner"))
    answer = post(
        client,
        "/admin/rules",
        {
            "unconfirmed_days": "many",
            "dormant_months": "24",
            "repermission_months": "18",
            "repermission_answer_days": "30",
            "former_customer_months": "12",
        },
    )
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "Enter a whole number from 1 to 1200." in html and 'value="many"' in html
    db.session.expire_all()
    assert policy_of(demo).unconfirmed_days == 30
    assert (
        db.session.scalar(select(AuditEntry).where(AuditEntry.action == "lifecycle.update")) is None
    )


def test_a_viewer_sees_the_rules_but_cannot_change_them(client, demo):
    log_in(client, make_admin(demo, "viewer"))
    page = client.get("/admin/rules")
    assert page.status_code == 200 and "Save the rules" not in page.get_data(as_text=True)
    assert post(client, "/admin/rules", {"unconfirmed_days": "1"}).status_code == 403


def _cell(page: str, rule: str) -> str:
    return re.search(rf"{rule}</td>\s*<td>([^<]*)</td>", page).group(1)


def test_the_preview_is_counted_by_the_worker_and_asked_for_again_by_a_button(client, demo, smtp):
    clock.freeze(START)
    sign_up(client, "waiting@example.com")
    decide()
    clock.freeze(START + timedelta(days=31))  # the sign-up is now due
    viewer = make_admin(demo, "viewer")
    log_in(client, viewer)
    page = client.get("/admin/rules").get_data(as_text=True)
    assert "Not counted yet." in page and "Count now" in page
    assert _cell(page, "Unconfirmed sign-ups are deleted") == "not counted yet"
    assert post(client, "/admin/rules/preview", {}).status_code == 302
    post(client, "/admin/rules/preview", {})  # twice: still one count queued
    page = client.get("/admin/rules").get_data(as_text=True)
    # No worker yet: the page says so, and shows no number it has not counted.
    assert "A fresh count is queued" in page and "Count now" not in page
    assert _cell(page, "Unconfirmed sign-ups are deleted") == "not counted yet"
    assert count(Job) == 1
    deliver()  # the worker
    page = client.get("/admin/rules").get_data(as_text=True)
    assert "Counted by the worker on" in page and "A fresh count is queued" not in page
    assert "Count again" in page
    assert _cell(page, "Unconfirmed sign-ups are deleted") == "1"
    sign_up(client, "also-waiting@example.com")
    decide()
    clock.freeze(START + timedelta(days=62))
    log_in(client, viewer)
    page = client.get("/admin/rules").get_data(as_text=True)
    assert _cell(page, "Unconfirmed sign-ups are deleted") == "1"  # stored, not counted now
    post(client, "/admin/rules/preview", {})
    deliver()
    page = client.get("/admin/rules").get_data(as_text=True)
    assert _cell(page, "Unconfirmed sign-ups are deleted") == "2"


@pytest.mark.one_database("postgresql")
def test_two_first_clicks_at_once_queue_one_count(app, demo, monkeypatch):
    """Two admins press "Count now" at once, before anything was ever counted. The first is
    held after it took the group's row and before it looked for a waiting count; the second
    runs meanwhile and waits for the row's lock (asked of pg_locks). Checking first and
    inserting after, both found nothing waiting: two jobs, or a unique-key error (a 500)."""
    clients = []
    for role in ("viewer", "owner"):
        client = app.test_client()
        log_in(client, make_admin(demo, role))
        page = client.get("/admin/rules").get_data(as_text=True)
        assert "Count now" in page
        clients.append((client, csrf_token(page)))
    db.session.remove()

    def click(client, token):
        return lambda: client.post("/admin/rules/preview", data={"csrf_token": token})

    answers, errors = actions.held_at(
        app, monkeypatch, previews, "_waiting", *(click(*pair) for pair in clients)
    )
    assert errors == []
    assert [answer.status_code for answer in answers] == [302, 302]
    assert count(Job) == 1
    for client, _ in clients:
        page = client.get("/admin/rules").get_data(as_text=True)
        assert "A fresh count is queued" in page and "Count now" not in page


def test_saving_the_rules_queues_a_fresh_count(client, demo):
    log_in(client, make_admin(demo, "owner"))
    values = {
        "unconfirmed_days": "7",
        "dormant_months": "24",
        "repermission_months": "18",
        "repermission_answer_days": "30",
        "former_customer_months": "12",
    }
    assert post(client, "/admin/rules", values).status_code == 302
    assert "A fresh count is queued" in client.get("/admin/rules").get_data(as_text=True)
