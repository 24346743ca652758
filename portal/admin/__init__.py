"""The admin console under /admin: one blueprint, one module per area.

Every view finds the signed-in admin in ``g.admin`` (set here, or the person is sent to the
login page) and asks ``core.console.admins.can`` before showing or changing anything. Things of
another group are "not found"; things of this group the admin may not touch are "forbidden".
"""

from flask import Blueprint, Flask, abort, current_app, g, redirect, request, session, url_for

from portal.core.console import admins
from portal.core.console.models import AdminAccount
from portal.core.kernel import clock
from portal.core.kernel.models.group import Brand, Topic
from portal.extensions import db

blueprint = Blueprint("admin", __name__, url_prefix="/admin")

# The admin session lives in its own keys, apart from anything a customer page keeps.
SESSION_KEYS = ("admin_id", "admin_seen", "admin_epoch", "admin_pending", "admin_pending_at")
PUBLIC = {
    "admin.login",
    "admin.enrol",
    "admin.accept_invite",
    "admin.forgot_password",
    "admin.reset_password",
}
PENDING_SECONDS = 600  # between a right password and the end of two-factor enrolment


def sign_out() -> None:
    for key in SESSION_KEYS:
        session.pop(key, None)


def sign_in(account: AdminAccount) -> None:
    sign_out()
    session["admin_id"] = account.id
    session["admin_seen"] = clock.now().timestamp()
    session["admin_epoch"] = account.session_epoch
    admins.logged_in(account)


def keep_session(account: AdminAccount) -> None:
    """After the admin changed their own password: this session stays, the others end."""
    session["admin_epoch"] = account.session_epoch


def pending_account() -> AdminAccount | None:
    """The account whose password was right and that still has to enrol for two-factor codes."""
    started = session.get("admin_pending_at", 0)
    if not session.get("admin_pending") or clock.now().timestamp() - started > PENDING_SECONDS:
        return None
    account = db.session.get(AdminAccount, session["admin_pending"])
    return account if account is not None and account.disabled_at is None else None


def error_page_admin() -> AdminAccount | None:
    """The signed-in admin for a console error page (a 404 under /admin/ comes before the
    blueprint's own check): read from the session, changing nothing, so the page can keep
    the console's navigation."""
    if getattr(g, "admin", None) is not None:
        return g.admin
    admin_id = session.get("admin_id")
    if not admin_id:
        return None
    idle = clock.now().timestamp() - session.get("admin_seen", 0)
    account = db.session.get(AdminAccount, admin_id)
    if (
        idle > current_app.config["ADMIN_IDLE_MINUTES"] * 60
        or account is None
        or account.disabled_at is not None
        or session.get("admin_epoch", 0) != account.session_epoch
    ):
        return None
    g.admin, g.group = account, account.group
    return account


@blueprint.before_request
def load_admin():
    g.admin = None
    g.timed_out = False
    admin_id = session.get("admin_id")
    if admin_id:
        idle = clock.now().timestamp() - session.get("admin_seen", 0)
        account = db.session.get(AdminAccount, admin_id)
        if idle > current_app.config["ADMIN_IDLE_MINUTES"] * 60:
            sign_out()
            g.timed_out = True
        elif (
            account is None
            or account.disabled_at is not None
            or session.get("admin_epoch", 0) != account.session_epoch
        ):
            sign_out()  # disabled, or its password was reset or changed since this sign-in
        else:
            g.admin, g.group = account, account.group
            session["admin_seen"] = clock.now().timestamp()
    if g.admin is None and request.endpoint not in PUBLIC:
        target = request.full_path if request.method == "GET" else None
        return redirect(url_for("admin.login", next=target, expired=1 if g.timed_out else None))
    return None


@blueprint.after_request
def no_store(response):
    # Console pages show personal data and settings: never cache them, never frame them.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def require(action: str, brand: Brand | None = None) -> None:
    if not admins.can(g.admin, action, brand):
        abort(403)


def brand_or_404(brand_id: int) -> Brand:
    """A brand of the admin's group (another group's brand is simply not found)."""
    brand = db.session.get(Brand, brand_id)
    if brand is None or brand.group_id != g.admin.group_id:
        abort(404)
    return brand


def topic_or_404(topic_id: int) -> Topic:
    topic = db.session.get(Topic, topic_id)
    if topic is None or topic.brand.group_id != g.admin.group_id:
        abort(404)
    return topic


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)


@blueprint.app_context_processor
def console_helpers():
    return {"can": lambda action, brand=None: admins.can(g.get("admin"), action, brand)}


from portal.admin import (  # noqa: E402,F401 - the route modules register on the blueprint
    api_clients,
    audit,
    auth,
    brands,
    dashboard,
    group,
    imports,
    jobs,
    mailing,
    my_account,
    recipients,
    rules,
    support,
    team,
    topics,
)
