"""Routes of the sign-up journey; the rules live in portal.core.consent.signup."""

from flask import Blueprint, abort, g, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _

from portal import tokens
from portal.core.consent import signup
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.models.group import Brand
from portal.extensions import htmx, limiter
from portal.limits import ADDRESS_SCOPE, IP_SCOPE, address_key, address_limit, ip_limit, post_only
from portal.mailed import Link, mailed_link
from portal.signup.forms import SignupForm
from portal.web import client_origin, scope_to_group

blueprint = Blueprint("signup", __name__, url_prefix="/<group>")
scope_to_group(blueprint)


def _brand(slug: str) -> Brand:
    """The group's active brand ``slug``, taken from ``g.group``'s brands (loaded with the
    group, so no query of its own)."""
    for brand in g.group.brands:
        if brand.slug == slug and brand.archived_at is None:
            return brand
    abort(404)


@blueprint.get("/")
def home():
    return render_template("signup/home.html", brands=g.group.live_brands())


@blueprint.route("/join/<brand>", methods=["GET", "POST"])
@limiter.limit(ip_limit, exempt_when=post_only, scope=IP_SCOPE)
@limiter.limit(address_limit, key_func=address_key, exempt_when=post_only, scope=ADDRESS_SCOPE)
def join(brand: str):
    brand = _brand(brand)
    topics = signup.signup_topics(brand)
    text = signup.latest_text(brand)
    if not brand.topics or text is None:
        abort(404)  # a draft (Brand.missing) has no page: there would be nothing to agree to
    form = SignupForm()
    form.topics.choices = [(topic.id, topic.id) for topic in topics]
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


def _refused(reason: str):
    abort(
        400,
        _(
            "This confirmation link is not valid. Copy the whole link from the mail, "
            "or sign up again."
        ),
    )


def _request_of(payload):
    if not isinstance(payload, dict) or payload.get("g") != g.group.id:
        _refused("invalid")
    pending = signup.find_request(g.group.id, payload.get("s"), payload.get("r"))
    if pending is None:
        abort(404)
    return pending


def _confirm_page(link: Link):
    """GET only shows a button: mail scanners and link previews open every link they see."""
    pending = _request_of(link.payload)
    if pending.confirmed_at is not None:
        return render_template("signup/confirmed.html", brand=pending.brand, already=True)
    if link.expired:
        return render_template("signup/expired.html", brand=pending.brand, token=link.token), 410
    topics = [t for t in pending.brand.topics if t.id in pending.topic_ids]
    return render_template(
        "signup/confirm.html", brand=pending.brand, topics=topics, token=link.token
    )


@blueprint.route("/confirm/<token>", methods=["GET", "POST"])
@mailed_link("confirm-signup", refused=_refused, show=_confirm_page, expired_ok=True)
def confirm(link: Link):
    if link.expired:
        return _confirm_page(link)
    pending = _request_of(link.payload)
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
    if not isinstance(payload, dict) or payload.get("g") != g.group.id:
        return "signup-address:invalid"
    pending = signup.find_request(g.group.id, payload.get("s"), payload.get("r"))
    return "signup-address:" + (pending.subject.email_hash if pending else "unknown")


@blueprint.post("/confirm/<token>/resend")
@limiter.limit(ip_limit, scope=IP_SCOPE)
@limiter.limit(address_limit, key_func=_resend_key, scope=ADDRESS_SCOPE)
@mailed_link("confirm-signup", refused=_refused, expired_ok=True)
def resend(link: Link):
    pending = _request_of(link.payload)
    signup.resend(g.group.id, pending.subject_id, pending.id)
    return render_template("signup/resent.html", brand=pending.brand)
