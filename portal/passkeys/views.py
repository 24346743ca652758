"""Routes of passkeys: the page that manages them (a form), and the JSON steps of the two
WebAuthn ceremonies, which only ``static/passkeys.js`` calls. The rules live in
portal.core.people.passkeys; without JavaScript the magic link remains the way in."""

from functools import wraps

from flask import (
    Blueprint,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from portal import sessions
from portal.core.kernel.errors import InvalidInput
from portal.core.people import access, passkeys
from portal.extensions import limiter
from portal.web import scope_to_group

blueprint = Blueprint("passkeys", __name__, url_prefix="/<group>/preferences/passkeys")
scope_to_group(blueprint)
KEY = "passkey"  # the session's challenge of each ceremony under way: {purpose: row id}


def _limit() -> str:
    """Sign-in attempts per client IP: as many as sign-up requests (RATELIMIT_SIGNUP_IP)."""
    return current_app.config["RATELIMIT_SIGNUP_IP"]


def _problem(status: int, detail: str, field: str | None = None):
    body = {"type": "about:blank", "status": status, "detail": detail}
    if field:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _refusal(reason: str):
    details = {
        "expired": _("This request has expired. Please try again."),
        "invalid": _("This passkey could not be checked. Try again, or ask for a link by email."),
        "unknown": _(
            "This passkey is not known here (it may have been removed). "
            "Use another one, or ask for a link by email."
        ),
    }
    return _problem(400 if reason != "unknown" else 404, details[reason])


def _held(purpose: str):
    return (session.get(KEY) or {}).get(purpose)


def _hold(purpose: str, challenge_id: int) -> None:
    session[KEY] = {**(session.get(KEY) or {}), purpose: challenge_id}


def _release(purpose: str):
    held = dict(session.get(KEY) or {})
    challenge_id = held.pop(purpose, None)
    session[KEY] = held
    return challenge_id


def _body() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def json_require(level: str):
    """``sessions.require`` for the JSON steps: a problem instead of a redirect."""

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            found = sessions.subject()
            if found is None:
                return _problem(401, _("You are signed out. Sign in again."))
            if not access.allows(sessions.current()["l"], level):
                return _problem(403, _("Confirm it is you first."))
            g.subject = found
            return view(*args, **kwargs)

        return wrapped

    return decorate


def _options(answer: tuple[int, str], purpose: str):
    challenge_id, options = answer
    _hold(purpose, challenge_id)
    return options, 200, {"Content-Type": "application/json"}


@blueprint.get("/")
@sessions.require(access.FULL)
def manage():
    return _page(done=request.args.get("done"))


def _page(status: int = 200, **context):
    context.setdefault("errors", {})
    listed = passkeys.listed(g.subject)
    return render_template("passkeys/manage.html", passkeys=listed, **context), status


@blueprint.post("/new/options")
@json_require(access.FULL)
def new_options():
    """Step 1 of adding one: the name is checked first, so nobody touches their device for a
    name that would be refused."""
    try:
        passkeys.check_name(_body().get("name") or "")
    except InvalidInput as refused:
        return _problem(422, str(refused.message), refused.field)
    answer = passkeys.registration_options(g.subject, replaces=_held(passkeys.REGISTER))
    return _options(answer, passkeys.REGISTER)


@blueprint.post("/new")
@json_require(access.FULL)
def new():
    """Step 2: the authenticator's answer; the page then shows the new passkey."""
    body = _body()
    try:
        passkeys.register(
            g.subject, _release(passkeys.REGISTER), body.get("credential"), body.get("name") or ""
        )
    except InvalidInput as refused:
        return _problem(422, str(refused.message), refused.field)
    except passkeys.PasskeyRefused as refused:
        return _refusal(refused.reason)
    return {"redirect": url_for(".manage", done="added")}


@blueprint.post("/<int:passkey_id>/remove")
@sessions.require(access.FULL)
def remove(passkey_id: int):
    if not passkeys.remove(g.subject, passkey_id):
        return _page(404, done="gone")
    return redirect(url_for(".manage", done="removed"), 303)


def _signed_in_to(subject) -> str:
    sessions.start(subject, access.FULL)
    next_path = sessions.safe_next(_body().get("next"))
    return next_path or url_for("preferences.centre")


@blueprint.post("/sign-in/options")
@limiter.limit(_limit, scope="passkey-ip")
def sign_in_options():
    answer = passkeys.sign_in_options(g.group, replaces=_held(passkeys.SIGN_IN))
    return _options(answer, passkeys.SIGN_IN)


@blueprint.post("/sign-in")
@limiter.limit(_limit, scope="passkey-ip")
def sign_in():
    """A passkey gives the session a magic link gives: the "full" level."""
    try:
        subject = passkeys.sign_in(g.group, _release(passkeys.SIGN_IN), _body().get("credential"))
    except passkeys.PasskeyRefused as refused:
        return _refusal(refused.reason)
    return {"redirect": _signed_in_to(subject)}


@blueprint.post("/confirm/options")
@json_require(access.PREFERENCES)
def confirm_options():
    answer = passkeys.sign_in_options(g.group, g.subject, replaces=_held(passkeys.CONFIRM))
    return _options(answer, passkeys.CONFIRM)


@blueprint.post("/confirm")
@json_require(access.PREFERENCES)
def confirm():
    """ "Confirm it is you" with one of the person's own passkeys: a fresh proof, like a link."""
    try:
        subject = passkeys.sign_in(
            g.group, _release(passkeys.CONFIRM), _body().get("credential"), g.subject
        )
    except passkeys.PasskeyRefused as refused:
        return _refusal(refused.reason)
    return {"redirect": _signed_in_to(subject)}
