"""Login (address, password and, once enrolled, a two-factor code), enrolment, logout,
accepting an invitation. Every refusal says the same thing, whichever part was wrong."""

from urllib.parse import urlsplit

import segno
from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup

from portal.admin import blueprint, pending_account, sign_in, sign_out
from portal.admin.forms import EnrolForm, LoginForm, NewPasswordForm
from portal.core.console import admins, recovery, team
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidInput
from portal.core.people.access import LinkRefused
from portal.core.people.subjects import normalise_email
from portal.extensions import limiter
from portal.forms import refuse
from portal.mailed import Link, mailed_link


def _limit() -> str:
    return current_app.config["RATELIMIT_ADMIN_LOGIN"]


def _not_post() -> bool:
    return request.method != "POST"


def _address_key() -> str:
    """The rate limit's key, read before the view (and its form) runs."""
    try:
        address = normalise_email(request.form.get("email", ""))
    except InvalidInput:
        address = "invalid"
    return "admin-login:" + admins.admin_hash(address)


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: never an open redirect to another site."""
    if target and target.startswith("/admin") and not urlsplit(target).netloc:
        return target
    return url_for("admin.dashboard")


@blueprint.route("/login", methods=["GET", "POST"])
@limiter.limit(_limit, exempt_when=_not_post, scope="admin-login-ip")
@limiter.limit(_limit, key_func=_address_key, exempt_when=_not_post, scope="admin-login-address")
def login():
    form = LoginForm()
    if form.validate_on_submit():
        account = admins.authenticate(form.email.data or "", form.password.data or "")
        code = form.code.data or ""
        if account is not None and account.totp_enabled and not _second_factor(account, code):
            account = None
        if account is None:
            form.form_errors.append(
                _("These details do not open an account. Check them and try again.")
            )
        elif admins.must_enrol(account):
            sign_out()
            session["admin_pending"] = account.id
            session["admin_pending_at"] = clock.now().timestamp()
            return redirect(url_for("admin.enrol", next=request.args.get("next")))
        else:
            sign_in(account)
            return redirect(_safe_next(request.args.get("next")))
    expired = request.args.get("expired") and request.method == "GET"
    page = render_template("admin/login.html", form=form, expired=expired)
    return page, 401 if form.form_errors else 200


def _second_factor(account, code: str) -> bool:
    """A current code from the app, or else one of the account's unused recovery codes."""
    if admins.check_code(account, code):
        return True
    if recovery.use_recovery_code(account, code):
        left = recovery.codes_left(account)
        flash(
            ngettext(
                "You signed in with a recovery code: %(num)d is left. Make new ones in My account.",
                "You signed in with a recovery code: %(num)d are left. Make new ones in My "
                "account.",
                left,
            )
        )
        return True
    return False


def qr_svg(uri: str) -> Markup:
    """The enrolment QR code as inline SVG, made here (no outside service sees the secret)."""
    svg = segno.make(uri, error="m").svg_inline(scale=4, title=_("QR code for your app"))
    return Markup(svg)  # noqa: S704 - segno's own markup; the title is escaped by segno


@blueprint.route("/enrol", methods=["GET", "POST"])
@limiter.limit(_limit, exempt_when=_not_post, scope="admin-login-ip")
def enrol():
    """Two-factor enrolment: at first login for an owner, or by choice from the account page."""
    account = g.admin or pending_account()
    if account is None:
        return redirect(url_for("admin.login"))
    if account.totp_enabled:
        return redirect(url_for("admin.account"))
    secret = admins.enrolment_secret(account)
    form = EnrolForm()
    if form.validate_on_submit():
        if admins.enrol(account, form.code.data or ""):
            if g.admin is None:
                sign_in(account)
                g.admin = account
            # Shown once, on this answer (never cached): only their hashes are kept.
            return render_template(
                "admin/recovery_codes.html",
                codes=recovery.new_recovery_codes(account),
                next=_safe_next(request.args.get("next")),
            )
        wrong = _("This code is not right. Enter the six digits your app shows now.")
        refuse(form, {"code": wrong})
    return render_template(
        "admin/enrol.html",
        qr=qr_svg(admins.provisioning_uri(account)),
        secret=secret,
        form=form,
        first_login=g.admin is None,
    ), 422 if form.errors else 200


@blueprint.post("/logout")
def logout():
    sign_out()
    return redirect(url_for("admin.login"))


def _invite_refused(reason: str):
    return render_template("admin/invite_invalid.html"), 404


def _invitation(link: Link):
    account = team.invited(link.payload)
    if account is None:
        raise LinkRefused("unknown")
    return account


def _invite_page(link: Link, form: NewPasswordForm | None = None):
    _invitation(link)
    return render_template("admin/invite.html", form=form or NewPasswordForm()), (
        422 if form else 200
    )


@blueprint.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit(_limit, exempt_when=_not_post, scope="admin-login-ip")
@mailed_link("admin-invite", refused=_invite_refused, show=_invite_page)
def accept_invite(link: Link):
    account = _invitation(link)
    form = NewPasswordForm()
    if not form.validate_on_submit():
        return _invite_page(link, form)
    try:
        team.accept(account, form.password.data, form.password_again.data)
    except InvalidInput as refused:
        return _invite_page(link, refuse(form, {refused.field: refused.message}))
    sign_out()
    return redirect(url_for("admin.login"))
