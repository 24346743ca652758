"""Other admins: invite by mail, change role and brands, disable."""

from email.utils import parseaddr

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from portal.admin import blueprint, require
from portal.core.console import team
from portal.core.console.models import ROLES, AdminAccount
from portal.core.kernel.errors import InvalidInput
from portal.extensions import db


def _member(admin_id: int) -> AdminAccount:
    account = db.session.get(AdminAccount, admin_id)
    if account is None or account.group_id != g.admin.group_id:
        abort(404)
    return account


def _brand_ids() -> list:
    try:
        return [int(value) for value in request.form.getlist("brands")]
    except ValueError:
        return [-1]  # refused by the core as "not in this group"


def _saved(done: str, change, *args) -> dict | None:
    """Run ``change(*args)``: None once it is saved (with ``done`` flashed), else the errors."""
    try:
        change(*args)
    except InvalidInput as refused:
        return {refused.field: refused.message}
    flash(done)
    return None


@blueprint.route("/admins", methods=["GET", "POST"])
def admin_list():
    require("manage_admins")
    errors = {}
    if request.method == "POST":
        errors = _saved(
            _("The invitation is on its way."),
            team.invite,
            g.admin,
            request.form.get("email", ""),
            request.form.get("role", ""),
            _brand_ids(),
            str(get_locale()),
            parseaddr(current_app.config["ADMIN_MAIL_SENDER"]),
        )
        if errors is None:
            return redirect(url_for("admin.admin_list"))
    return render_template(
        "admin/admins.html",
        members=team.members(g.admin.group_id),
        errors=errors,
        values=request.form,
        roles=ROLES,
    ), 422 if errors else 200


@blueprint.route("/admins/<int:admin_id>", methods=["GET", "POST"])
def admin_edit(admin_id: int):
    require("manage_admins")
    account = _member(admin_id)
    errors = {}
    if request.method == "POST":
        errors = _saved(
            _("The changes are saved."),
            team.change,
            g.admin,
            account,
            request.form.get("role", ""),
            _brand_ids(),
            request.form.get("disabled") == "1",
        )
        if errors is None:
            return redirect(url_for("admin.admin_list"))
    return render_template(
        "admin/admin_form.html",
        account=account,
        errors=errors,
        roles=ROLES,
    ), 422 if errors else 200
