"""The retention rules in the console: settings, a preview of each rule, audited changes."""

from sqlalchemy import select

from portal.core.console.models import AuditEntry
from portal.core.lifecycle.policy import policy_of
from portal.extensions import db
from tests.actions import sign_up
from tests.admin.helpers import log_in, make_admin, post


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
