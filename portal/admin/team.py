"""Other admins: invite by mail, change role and brands, disable."""

from email.utils import parseaddr

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from portal.admin import blueprint, require
from portal.admin.forms import AdminEditForm, InviteForm
from portal.core.console import recovery, team
from portal.core.console.models import ROLES, AdminAccount
from portal.core.kernel.errors import InvalidInput
from portal.extensions import db
from portal.forms import refuse


def _member(admin_id: int) -> AdminAccount:
    account = db.session.get(AdminAccount, admin_id)
    if account is None or account.group_id != g.admin.group_id:
        abort(404)
    return account


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
    form = InviteForm()
    if form.validate_on_submit():
        errors = _saved(
            _("The invitation is on its way."),
            team.invite,
            g.admin,
            form.email.data,
            form.role.data or "",
            form.brand_ids(),
            str(get_locale()),
            parseaddr(current_app.config["ADMIN_MAIL_SENDER"]),
        )
        if errors is None:
            return redirect(url_for("admin.admin_list"))
        refuse(form, errors)
    max_age = current_app.config["ADMIN_INVITE_MAX_AGE"]
    return render_template(
        "admin/admins.html",
        members=team.members(g.admin.group_id),
        expired=lambda account: team.invitation_expired(account, max_age),
        form=form,
        errors={name: messages[0] for name, messages in form.errors.items()},
        roles=ROLES,
    ), 422 if form.errors else 200


@blueprint.route("/admins/<int:admin_id>", methods=["GET", "POST"])
def admin_edit(admin_id: int):
    require("manage_admins")
    account = _member(admin_id)
    form = AdminEditForm()
    if form.validate_on_submit():
        errors = _saved(
            _("The changes are saved."),
            team.change,
            g.admin,
            account,
            form.role.data or "",
            form.brand_ids(),
            form.disabled.data,
        )
        if errors is None:
            return redirect(url_for("admin.admin_list"))
        refuse(form, errors)
    return _edit_page(account, form)


def _edit_page(account: AdminAccount, form: AdminEditForm | None = None, errors=None):
    """The page of one admin: its form as posted (with the core's refusals), or as saved."""
    if form is None or request.method != "POST":
        form = AdminEditForm(formdata=None)
        form.role.data = account.role
        form.brands.data = [str(brand.id) for brand in account.brands]
        form.disabled.data = account.disabled_at is not None
    if errors:
        refuse(form, errors)
    expired = team.invitation_expired(account, current_app.config["ADMIN_INVITE_MAX_AGE"])
    return render_template(
        "admin/admin_form.html",
        account=account,
        form=form,
        errors={name: messages[0] for name, messages in form.errors.items()},
        roles=ROLES,
        expired=expired,
    ), 422 if form.errors or form.form_errors else 200


def _sender():
    return parseaddr(current_app.config["ADMIN_MAIL_SENDER"])


@blueprint.post("/admins/<int:admin_id>/resend")
def admin_resend(admin_id: int):
    """Mail a pending or expired invitation again, with a new link."""
    require("manage_admins")
    account = _member(admin_id)
    errors = _saved(
        _("A new invitation is on its way to %(email)s.", email=account.email),
        team.resend,
        g.admin,
        account,
        str(get_locale()),
        _sender(),
    )
    return _back(account, errors)


@blueprint.post("/admins/<int:admin_id>/revoke")
def admin_revoke(admin_id: int):
    """Withdraw a pending invitation: its link stops working."""
    require("manage_admins")
    account = _member(admin_id)
    email = account.email
    errors = _saved(
        _("The invitation to %(email)s is withdrawn.", email=email), team.revoke, g.admin, account
    )
    if errors is None:
        return redirect(url_for("admin.admin_list"))
    return _back(account, errors)


@blueprint.post("/admins/<int:admin_id>/reset-two-factor")
def admin_reset_two_factor(admin_id: int):
    """For an admin who lost their phone and their recovery codes (audited)."""
    require("manage_admins")
    account = _member(admin_id)
    errors = _saved(
        _(
            "Two-factor sign-in of %(email)s is reset: they sign in with their password and set "
            "it up again.",
            email=account.email,
        ),
        recovery.reset_two_factor,
        g.admin,
        account,
    )
    return _back(account, errors)


def _back(account: AdminAccount, errors):
    if errors is None:
        return redirect(url_for("admin.admin_edit", admin_id=account.id))
    return _edit_page(account, errors=errors)
