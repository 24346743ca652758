"""Routes of the sign-up journey; the rules live in portal.core.consent.signup."""

from flask import Blueprint, abort, g, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from portal import tokens
from portal.core.consent import signup
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.models.group import Brand
from portal.extensions import db, htmx, limiter
from portal.limits import ADDRESS_SCOPE, IP_SCOPE, address_key, address_limit, ip_limit, post_only
from portal.signup.forms import SignupForm
from portal.web import client_origin, scope_to_group

blueprint = Blueprint("signup", __name__, url_prefix="/<group>")
scope_to_group(blueprint)


def _brand(slug: str) -> Brand:
    brand = db.session.scalar(
        select(Brand).where(
            Brand.group_id == g.group.id, Brand.slug == slug, Brand.archived_at.is_(None)
        )
    )
    if brand is None:
        abort(404)
    return brand


@blueprint.get("/")
def home():
    return render_template("signup/home.html", brands=g.group.active_brands())


@blueprint.route("/join/<brand>", methods=["GET", "POST"])
@limiter.limit(ip_limit, exempt_when=post_only, scope=IP_SCOPE)
@limiter.limit(address_limit, key_func=address_key, exempt_when=post_only, scope=ADDRESS_SCOPE)
def join(brand: str):
    brand = _brand(brand)
    form = SignupForm()
    topics = signup.signup_topics(brand)
    form.topics.choices = [(topic.id, topic.id) for topic in topics]
    text = signup.latest_text(brand)
    language = str(get_locale())
    errors: dict[str, str] = {}
    sent_to = None
    if request.method == "POST" and form.validate_on_submit():
        try:
            text_version = int(form.text_version.data or 0)
        except ValueError:
            text_version = 0
        try:
            sent_to = signup.sign_up(
                brand,
                form.email.data or "",
                form.topics.data or [],
                text_version,
                language,
                client_origin("signup_form"),
            )
        except InvalidInput as refused:
            errors[refused.field] = str(refused.message)
    elif request.method == "POST":
        errors["topics"] = _("One of the chosen topics is not offered here.")
    if request.method == "GET":
        form.text_version.data = str(text.id)
    status = 422 if errors else 200
    context = {
        "brand": brand,
        "form": form,
        "topics": topics,
        "text": text,
        "errors": errors,
        "chosen": set(form.topics.data or []),
        "sent_to": sent_to,
        "language": language,
    }
    if htmx:  # htmx swaps only 2xx answers; the partial carries the errors itself
        return render_template("signup/_join.html", **context)
    return render_template("signup/join.html", **context), status


def _read_confirmation(token: str):
    """(payload, expired) for a genuine token; a 400 page for anything else."""
    try:
        return tokens.read("confirm-signup", token), False
    except tokens.ExpiredToken as expired:
        return expired.payload, True
    except tokens.InvalidToken:
        abort(
            400,
            _(
                "This confirmation link is not valid. Copy the whole link from the mail, "
                "or sign up again."
            ),
        )


def _request_of(payload: dict):
    if not isinstance(payload, dict) or payload.get("g") != g.group.id:
        abort(
            400,
            _(
                "This confirmation link is not valid. Copy the whole link from the mail, "
                "or sign up again."
            ),
        )
    return signup.find_request(g.group.id, payload.get("s"), payload.get("r"))


@blueprint.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    """GET only shows a button: mail scanners and link previews open every link they see."""
    payload, expired = _read_confirmation(token)
    pending = _request_of(payload)
    if pending is None:
        abort(404)
    if pending.confirmed_at is not None:
        return render_template("signup/confirmed.html", brand=pending.brand, already=True)
    if expired:
        return render_template("signup/expired.html", brand=pending.brand, token=token), 410
    if request.method == "GET":
        topics = [t for t in pending.brand.topics if t.id in pending.topic_ids]
        return render_template(
            "signup/confirm.html", brand=pending.brand, topics=topics, token=token
        )
    outcome = signup.confirm(
        g.group.id, pending.subject_id, pending.id, client_origin("double_opt_in")
    )
    if outcome is signup.Confirmation.UNKNOWN:
        abort(404)
    return render_template(
        "signup/confirmed.html", brand=pending.brand, already=outcome is signup.Confirmation.ALREADY
    )


def _resend_key() -> str:
    """A resent confirmation counts against the same per-address limit as a sign-up."""
    try:
        payload = tokens.read("confirm-signup", request.view_args["token"])
    except tokens.ExpiredToken as expired:
        payload = expired.payload
    except tokens.InvalidToken:
        return "signup-address:invalid"
    pending = _request_of(payload)
    return "signup-address:" + (pending.subject.email_hash if pending else "unknown")


@blueprint.post("/confirm/<token>/resend")
@limiter.limit(ip_limit, scope=IP_SCOPE)
@limiter.limit(address_limit, key_func=_resend_key, scope=ADDRESS_SCOPE)
def resend(token: str):
    payload, _expired = _read_confirmation(token)
    pending = _request_of(payload)
    if pending is None:
        abort(404)
    signup.resend(g.group.id, pending.subject_id, pending.id)
    return render_template("signup/resent.html", brand=pending.brand)
