"""The retention rules of the group: settings, how many people each rule would touch (as the
worker last counted: ``previews``; a request never counts), and changes (owners only,
audited)."""

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from portal.admin import blueprint, require
from portal.admin.forms import RulesForm
from portal.core.kernel.errors import InvalidInput
from portal.core.lifecycle import policy, previews, run
from portal.core.people.profile import MOBILE, POSTAL
from portal.forms import refuse

NUMBERS = (
    "unconfirmed_days",
    "dormant_months",
    "repermission_months",
    "repermission_answer_days",
    "former_customer_months",
)


def _whole(text: str | None):
    """A typed number as an int (the form checked its shape); empty is None."""
    text = (text or "").strip()
    return int(text) if text else None


def _page(form: RulesForm, values: dict):
    return render_template(
        "admin/rules.html",
        form=form,
        values=values,
        preview=previews.shown(g.admin.group),
        switched_on=run.switched_on(g.admin.group),
        fields=(MOBILE, POSTAL),
    ), 422 if form.errors else 200


def _typed(settings: dict) -> dict:
    """The form's fields as the saved settings fill them."""
    typed = {name: settings.get(name) for name in NUMBERS}
    for field, months in (settings.get("reconfirm_months") or {}).items():
        typed[f"reconfirm_{field}"] = months
    return {name: "" if value is None else str(value) for name, value in typed.items()}


@blueprint.get("/rules")
def rules():
    require("view_rules")
    settings = policy.as_dict(policy.policy_of(g.admin.group))
    return _page(RulesForm(data=_typed(settings)), settings)


@blueprint.post("/rules")
def rules_update():
    require("manage_rules")
    form = RulesForm()
    if form.validate_on_submit():
        changes = {name: _whole(form[name].data) for name in NUMBERS}
        reconfirm = {f: _whole(form[f"reconfirm_{f}"].data) for f in (MOBILE, POSTAL)}
        changes["reconfirm_months"] = {f: m for f, m in reconfirm.items() if m is not None}
        try:
            policy.update_policy(g.admin.group, changes, f"admin:{g.admin.id}", admin=g.admin)
        except InvalidInput as refused:
            # The core names the reconfirmation intervals together: the first field typed.
            field = refused.field
            if field == "reconfirm_months":
                typed = [f for f in (MOBILE, POSTAL) if reconfirm[f] is not None]
                field = f"reconfirm_{(typed or [MOBILE])[0]}"
            refuse(form, {field: str(refused.message)})
        else:
            previews.ask(g.admin.group, f"admin:{g.admin.id}")  # counts of the old rules
            flash(_("The rules are saved."))
            return redirect(url_for("admin.rules"))
    return _page(form, {})


@blueprint.post("/rules/preview")
def rules_preview():
    """Queue a fresh count for the worker: nothing is counted here."""
    require("view_rules")
    previews.ask(g.admin.group, f"admin:{g.admin.id}")
    flash(_("A fresh count is queued for the worker."))
    return redirect(url_for("admin.rules"))
