"""Routes of the preference centre; the rules live in portal.core.people.access and
portal.core.consent.preferences."""

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from sqlalchemy import select

from portal import sessions
from portal.core.consent import preferences
from portal.core.consent.preferences import ContactNeeded
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.models.group import Brand
from portal.core.people import access, passkeys
from portal.extensions import db, htmx, limiter
from portal.limits import ADDRESS_SCOPE, IP_SCOPE, address_key, address_limit, ip_limit, post_only
from portal.mailed import Link, mailed_link
from portal.preferences.forms import SignInForm, read_contact, typed
from portal.preferences.rows import Rows, read_changes
from portal.web import client_origin, scope_to_group

blueprint = Blueprint("preferences", __name__, url_prefix="/<group>/preferences")
scope_to_group(blueprint)
SOURCE = "preference_centre"
# What a POST leaves on the rows it shows again (see Rows).
ROW_STATE = ("ticked", "shown", "needs", "outcome")


def _language() -> str:
    return str(get_locale())


def _brand(slug: str | None) -> Brand:
    """The brand a mail is sent in the name of: the one the person came from, or the first."""
    brands = g.group.active_brands()
    if not brands:
        abort(404)
    return next((brand for brand in brands if brand.slug == slug), brands[0])


@blueprint.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(ip_limit, exempt_when=post_only, scope=IP_SCOPE)
@limiter.limit(address_limit, key_func=address_key, exempt_when=post_only, scope=ADDRESS_SCOPE)
def sign_in():
    """Ask for a magic link. The answer is the same whether or not the address is known."""
    form = SignInForm()
    errors, sent_to = {}, None
    if request.method == "GET":
        form.next.data = sessions.safe_next(request.args.get("next")) or ""
        form.brand.data = request.args.get("brand", "")
    else:
        try:
            sent_to = access.request_link(
                g.group,
                form.email.data or "",
                _language(),
                _brand(form.brand.data),
                sessions.safe_next(form.next.data),
            )
        except InvalidInput as refused:
            errors[refused.field] = str(refused.message)
    context = {"form": form, "errors": errors, "sent_to": sent_to}
    if htmx:
        return render_template("preferences/_sign_in.html", **context)
    return render_template("preferences/sign_in.html", **context), 422 if errors else 200


def _refused(reason: str):
    status = 400 if reason in ("invalid", "unknown") else 410
    return render_template("preferences/link_refused.html", reason=reason), status


def _magic_page(link: Link):
    """GET shows a button (mail scanners open links); only the POST uses the link."""
    entry = access.check_link(g.group.id, link.payload)
    signed_in = sessions.subject()
    if signed_in is not None and signed_in.id != entry.subject.id:
        sessions.end()  # a link for someone else: that session ends (it only takes away)
    return render_template("preferences/link.html", token=link.token)


def _manage_page(link: Link):
    """The footer link's page: its button signs in at the "preferences" level."""
    access.manage_entry(g.group.id, link.payload)
    return render_template("preferences/link.html", token=link.token)


@blueprint.route("/link/<token>", methods=["GET", "POST"])
@mailed_link("sign-in", refused=_refused, show=_magic_page)
def open_link(link: Link):
    """A magic link: the POST uses it, once, and signs in at the "full" level."""
    entry = access.use_link(g.group.id, link.payload)
    sessions.start(entry.subject, entry.level)
    return redirect(sessions.safe_next(entry.next_path) or url_for(".centre"))


@blueprint.route("/manage/<token>", methods=["GET", "POST"])
@mailed_link("manage", refused=_refused, show=_manage_page)
def manage(link: Link):
    """The "Manage preferences" link of every mail footer: subscription changes only."""
    entry = access.manage_entry(g.group.id, link.payload)
    sessions.start(entry.subject, entry.level)
    return redirect(url_for(".centre"))


@blueprint.post("/sign-out")
def sign_out():
    sessions.end()
    return render_template("preferences/signed_out.html")


def _rows(context: dict) -> Rows:
    """The rows of the subject's centre, showing what ``context`` (a POST) left on them."""
    centre = preferences.centre(g.subject, _language())
    return Rows(centre, **{name: context.get(name) for name in ROW_STATE})


def _centre_page(status=200, **context):
    houses = _rows(context).houses(came_from=request.args.get("brand"))
    context.setdefault("errors", {})
    context.update(houses=houses, level=g.access_level)
    return render_template("preferences/centre.html", **context), status


def _submitted(form, only=None):
    """Apply the posted rows; returns the template context describing what happened."""
    context = {"errors": {}, "typed": typed(form)}
    try:
        contact = read_contact(form)
        changes = read_changes(form)
        if only is not None:
            changes = [change for change in changes if (change.topic_id, change.channel) == only]
        context["outcome"] = preferences.apply(
            g.subject, changes, contact, _language(), client_origin(SOURCE)
        )
    except InvalidInput as refused:
        context["errors"][refused.field] = str(refused.message)
        context["needs"] = (
            refused.key if isinstance(refused, ContactNeeded) else _asking(refused.field, only)
        )
        # Show the page as the person left it, so nothing they typed or ticked is lost.
        context["ticked"] = set(request.form.getlist("consent"))
        context["shown"] = set(request.form.getlist("shown"))
    return context


def _asking(field_name: str, only) -> tuple[int, str] | None:
    """The row whose contact fields were refused: the one being turned on for that channel."""
    channel = {"mobile": "sms", "postal": "post"}.get(field_name.split("_")[0])
    if channel is None:
        return None
    if only is not None:
        return only
    ticked = set(request.form.getlist("consent"))
    for raw in request.form.getlist("shown"):
        key, _, state = raw.rpartition(":")
        topic, _, row_channel = key.partition(":")
        if row_channel == channel and state == "0" and key in ticked and topic.isdigit():
            return int(topic), channel
    return None


@blueprint.route("/", methods=["GET", "POST"])
@sessions.require(access.PREFERENCES)
def centre():
    if request.method == "GET":
        return _centre_page()
    context = _submitted(request.form)
    return _centre_page(422 if context["errors"] else 200, saved=not context["errors"], **context)


@blueprint.post("/row/<int:topic_id>/<channel>")
@sessions.require(access.PREFERENCES)
def row(topic_id: int, channel: str):
    """One toggle, with htmx: applies that row only and answers with that row."""
    context = _submitted(request.form, only=(topic_id, channel))
    found = _rows(context).find(topic_id, channel)
    if found is None:
        abort(404)
    return render_template(
        "preferences/_row.html", row=found, standalone=True, single=True, saved_row=True, **context
    )


@blueprint.route("/leave", methods=["GET", "POST"], defaults={"brand": None})
@blueprint.route("/leave/<brand>", methods=["GET", "POST"])
@sessions.require(access.PREFERENCES)
def leave(brand: str | None):
    """ "Unsubscribe from all of <brand>" or from everything: one click, one confirmation."""
    chosen = None
    if brand is not None:
        chosen = db.session.scalar(
            select(Brand).where(Brand.group_id == g.group.id, Brand.slug == brand)
        )
        if chosen is None:
            abort(404)
    if request.method == "GET":
        return render_template("preferences/leave.html", brand=chosen)
    count = preferences.unsubscribe_all(g.subject, client_origin(SOURCE), chosen)
    return render_template("preferences/left.html", brand=chosen, count=count)


@blueprint.route("/confirm-it-is-you", methods=["GET", "POST"])
@limiter.limit(ip_limit, exempt_when=post_only, scope=IP_SCOPE)
@sessions.require(access.PREFERENCES)
def fresh_link():
    """For what needs the "full" level: send a fresh magic link that returns here after."""
    next_path = sessions.safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template(
            "preferences/fresh_link.html",
            next_path=next_path,
            sent=False,
            has_passkeys=bool(passkeys.listed(g.subject)),
        )
    access.send_fresh_link(g.subject, _brand(request.form.get("brand")), _language(), next_path)
    return render_template("preferences/fresh_link.html", next_path=next_path, sent=True)
