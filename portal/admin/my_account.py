"""My account (password, two-factor sign-in, recovery codes) and the password reset that
starts from the login page with a mailed link."""

from email.utils import parseaddr

from flask import current_app, flash, g, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from portal.admin import blueprint, keep_session, sign_out
from portal.admin.auth import _limit, _not_post
from portal.admin.forms import (
    ForgotForm,
    NewPasswordForm,
    PasswordChangeForm,
    RecoveryCodesForm,
    TimeZoneForm,
    TwoFactorOffForm,
)
from portal.core.console import admins, recovery
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidInput
from portal.core.people.access import LinkRefused
from portal.extensions import limiter
from portal.forms import refuse
from portal.mailed import Link, mailed_link

# The forms of the My account page, by the name the template knows them by.
FORMS = {
    "password_form": PasswordChangeForm,
    "codes_form": RecoveryCodesForm,
    "off_form": TwoFactorOffForm,
    "zone_form": TimeZoneForm,
}


def _account_page(**posted):
    """The page with its forms; ``posted`` is the one form sent back with its errors."""
    forms = {name: posted.get(name) or form() for name, form in FORMS.items()}
    if not posted:
        forms["zone_form"].time_zone.data = g.admin.time_zone or ""
    return render_template(
        "admin/account.html",
        codes_left=recovery.codes_left(g.admin) if g.admin.totp_enabled else 0,
        now=clock.now(),
        **forms,
    ), 422 if posted else 200


@blueprint.get("/account")
def account():
    return _account_page()


@blueprint.post("/account/password")
@limiter.limit(_limit, scope="admin-login-ip")
def change_password():
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return _account_page(password_form=form)
    try:
        recovery.change_password(
            g.admin, form.current_password.data, form.password.data, form.password_again.data
        )
    except InvalidInput as refused:
        return _account_page(password_form=refuse(form, {refused.field: refused.message}))
    keep_session(g.admin)
    flash(_("Your password is changed. Your other sessions are signed out."))
    return redirect(url_for("admin.account"))


@blueprint.post("/account/two-factor/off")
@limiter.limit(_limit, scope="admin-login-ip")
def two_factor_off():
    form = TwoFactorOffForm()
    if not form.validate_on_submit():
        return _account_page(off_form=form)
    try:
        recovery.turn_off_two_factor(g.admin, form.off_password.data)
    except InvalidInput as refused:
        return _account_page(off_form=refuse(form, {"off_" + refused.field: refused.message}))
    flash(_("Two-factor sign-in is off."))
    return redirect(url_for("admin.account"))


@blueprint.post("/account/time-zone")
def time_zone():
    form = TimeZoneForm()
    if not form.validate_on_submit():
        return _account_page(zone_form=form)
    admins.set_time_zone(g.admin, form.time_zone.data)
    flash(_("Your time zone is saved: dates are shown in it."))
    return redirect(url_for("admin.account"))


@blueprint.post("/account/recovery-codes")
@limiter.limit(_limit, scope="admin-login-ip")
def recovery_codes():
    if not g.admin.totp_enabled:
        return redirect(url_for("admin.account"))
    form = RecoveryCodesForm()
    if not form.validate_on_submit():
        return _account_page(codes_form=form)
    if admins.authenticate(g.admin.email, form.codes_password.data) is None:
        refused = {"codes_password": _("This is not your current password.")}
        return _account_page(codes_form=refuse(form, refused))
    return render_template(
        "admin/recovery_codes.html",
        codes=recovery.new_recovery_codes(g.admin),
        next=url_for("admin.account"),
    )


@blueprint.route("/forgot", methods=["GET", "POST"])
@limiter.limit(_limit, exempt_when=_not_post, scope="admin-login-ip")
def forgot_password():
    """The same answer for every address: the form tells no one who has an account."""
    form = ForgotForm()
    if form.validate_on_submit():
        recovery.request_reset(
            form.email.data or "",
            str(get_locale()),
            parseaddr(current_app.config["ADMIN_MAIL_SENDER"]),
        )
        return render_template("admin/forgot.html", sent=True)
    return render_template("admin/forgot.html", sent=False, form=form)


def _reset_refused(reason: str):
    return render_template("admin/reset_invalid.html", reason=reason), 404


def _target(link: Link):
    account = recovery.reset_target(link.payload)
    if account is None:
        raise LinkRefused("used")
    return account


def _reset_page(link: Link, form: NewPasswordForm | None = None):
    _target(link)
    return render_template("admin/reset.html", form=form or NewPasswordForm()), (
        422 if form else 200
    )


@blueprint.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_limit, exempt_when=_not_post, scope="admin-login-ip")
@mailed_link("admin-reset", refused=_reset_refused, show=_reset_page)
def reset_password(link: Link):
    account = _target(link)
    form = NewPasswordForm()
    if not form.validate_on_submit():
        return _reset_page(link, form)
    try:
        recovery.reset_password(account, form.password.data, form.password_again.data)
    except InvalidInput as refused:
        return _reset_page(link, refuse(form, {refused.field: refused.message}))
    sign_out()
    flash(_("Your password is changed. Sign in with it now."))
    return redirect(url_for("admin.login"))
