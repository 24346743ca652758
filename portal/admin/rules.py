"""The retention rules of the group: settings, how many people each rule would touch (as the
worker last counted: ``previews``; a request never counts), and changes (owners only,
audited)."""

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.admin import blueprint, require
from portal.core.kernel.errors import InvalidInput
from portal.core.lifecycle import policy, previews, run
from portal.core.people.profile import MOBILE, POSTAL

NUMBERS = (
    "unconfirmed_days",
    "dormant_months",
    "repermission_months",
    "repermission_answer_days",
    "former_customer_months",
)


def _whole(text: str):
    """A typed number as an int; anything else goes to the core as typed, to be refused."""
    return int(text) if text.isdigit() else (text or None)


def _page(values: dict, errors: dict, status: int = 200):
    return render_template(
        "admin/rules.html",
        values=values,
        errors=errors,
        preview=previews.shown(g.admin.group),
        switched_on=run.switched_on(g.admin.group),
        fields=(MOBILE, POSTAL),
    ), status


@blueprint.get("/rules")
def rules():
    require("view_rules")
    return _page(policy.as_dict(policy.policy_of(g.admin.group)), {})


@blueprint.post("/rules")
def rules_update():
    require("manage_rules")
    typed = {name: request.form.get(name, "").strip() for name in NUMBERS}
    reconfirm = {
        field: request.form.get(f"reconfirm_{field}", "").strip() for field in (MOBILE, POSTAL)
    }
    changes = {name: _whole(value) for name, value in typed.items()}
    changes["reconfirm_months"] = {f: _whole(m) for f, m in reconfirm.items() if m}
    try:
        policy.update_policy(g.admin.group, changes, f"admin:{g.admin.id}", admin=g.admin)
    except InvalidInput as refused:
        shown = {**typed, "reconfirm_months": reconfirm}
        return _page(shown, {refused.field: str(refused.message)}, 422)
    previews.ask(g.admin.group, f"admin:{g.admin.id}")  # the stored counts are of the old rules
    flash(_("The rules are saved."))
    return redirect(url_for("admin.rules"))


@blueprint.post("/rules/preview")
def rules_preview():
    """Queue a fresh count for the worker: nothing is counted here."""
    require("view_rules")
    previews.ask(g.admin.group, f"admin:{g.admin.id}")
    flash(_("A fresh count is queued for the worker."))
    return redirect(url_for("admin.rules"))
