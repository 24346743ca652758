"""Routes of "My data": see everything held, correct it, change the address, download it.

Everything here needs the "full" level (a fresh magic link), except opening the link mailed
to a new address, which proves itself.
"""

from flask import Response, abort, g, render_template, request
from flask_babel import gettext as _

from portal import sessions, tokens
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidInput
from portal.core.people import access, email_change, export, mydata, profile
from portal.extensions import htmx, limiter
from portal.limits import ADDRESS_SCOPE, IP_SCOPE, address_key, address_limit, ip_limit, post_only
from portal.selfservice.blueprint import SOURCE, blueprint, language, refused, sender
from portal.selfservice.forms import EmailForm, read_field, stored, typed
from portal.web import client_origin


def labels() -> dict[str, str]:
    return {
        profile.FIRST_NAME: _("First name"),
        profile.LAST_NAME: _("Last name"),
        profile.LANGUAGE: _("Preferred language"),
        profile.MOBILE: _("Mobile number"),
        profile.POSTAL: _("Postal address"),
        profile.BIRTH: _("Date of birth"),
    }


def words() -> dict:
    """Words the history and sign-up tables repeat, translated once per page."""
    return {
        "channels": {"email": _("Email"), "sms": _("SMS"), "post": _("Post")},
        "states": {
            "pending": _("Waiting for your confirmation"),
            "granted": _("Subscribed"),
            "withdrawn": _("Unsubscribed"),
        },
        "actions": {
            "requested": _("Asked for"),
            "confirmed": _("Confirmed by you"),
            "granted": _("Given"),
            "withdrawn": _("Withdrawn"),
            "suppression_lifted": _("Signed up again after an erasure"),
        },
        "hows": {
            "signup_form": _("by email sign-up"),
            "double_opt_in": _("by email sign-up"),
            "preference_centre": _("in your preference centre"),
            "api": _("through a website or app"),
            "import": _("from earlier records"),
            "admin": _("through customer service"),
        },
        "actors": {"subject": _("you"), "admin": _("customer service")},
    }


def _context(**context) -> dict:
    data = mydata.gather(g.subject)
    values = stored(g.subject, data.fields)
    values.update(context.pop("typed", {}))
    context.setdefault("errors", {})
    context.setdefault("email_form", EmailForm(formdata=None))
    return {"data": data, "values": values, "labels": labels(), "words": words(), **context}


def _page(status: int = 200, **context):
    return render_template("selfservice/my_data.html", **_context(**context)), status


@blueprint.get("/")
@sessions.require(access.FULL)
def page():
    return _page()


@blueprint.post("/field/<name>")
@sessions.require(access.FULL)
def field(name: str):
    """Save one field; with htmx the answer is that field's form alone."""
    if name not in profile.names_of(g.group):
        abort(404)
    context = {"errors": {}, "current": name}
    try:
        profile.edit(g.subject, name, read_field(name, request.form), actor="subject")
        context["saved"] = name
    except InvalidInput as refused:
        context["errors"][refused.field] = str(refused.message)
        context["typed"] = typed(name, request.form)
    if htmx:  # htmx swaps only 2xx answers: the error is in the swapped field
        template = "selfservice/_field.html"
        return render_template(template, name=name, standalone=True, **_context(**context))
    return _page(422 if context["errors"] else 200, **context)


@blueprint.post("/email")
@limiter.limit(ip_limit, exempt_when=post_only, scope=IP_SCOPE)
@limiter.limit(address_limit, key_func=address_key, exempt_when=post_only, scope=ADDRESS_SCOPE)
@sessions.require(access.FULL)
def change_email():
    """Ask to move to a new address: the same answer whether or not it is someone else's."""
    form = EmailForm()
    context = {"email_form": form, "errors": {}}
    try:
        context["sent_to"] = email_change.request(
            g.subject, form.email.data or "", sender(), language()
        )
        context["email_form"] = EmailForm(formdata=None)
    except InvalidInput as refused:
        context["errors"]["email"] = str(refused.message)
    if htmx:
        return render_template("selfservice/_email.html", **_context(**context))
    return _page(422 if context["errors"] else 200, **context)


@blueprint.post("/email/cancel")
@sessions.require(access.FULL)
def cancel_email():
    email_change.cancel(g.subject)
    return _page(cancelled=True)


@blueprint.route("/email/confirm/<token>", methods=["GET", "POST"])
def confirm_email(token: str):
    """The link mailed to the new address: GET shows a button (scanners), POST confirms."""
    try:
        payload = tokens.read("change-email", token)
        if request.method == "GET":
            change = email_change.check(g.group.id, payload)
            return render_template("selfservice/email_confirm.html", token=token, change=change)
        subject = email_change.confirm(g.group.id, payload, client_origin(SOURCE))
    except tokens.ExpiredToken:
        return refused("expired")
    except tokens.InvalidToken:
        return refused("invalid")
    except access.LinkRefused:
        return refused("unknown")
    except email_change.AddressTaken:
        return refused("taken")
    return render_template("selfservice/email_changed.html", address=subject.email)


@blueprint.get("/download.<kind>")
@sessions.require(access.FULL)
def download(kind: str):
    """GDPR Art. 15 and 20: everything, as an attachment with a dated name, never cached."""
    if kind == "json":
        body, mimetype = export.as_json(g.subject), "application/json"
    elif kind == "zip":
        body, mimetype = export.as_csv_zip(g.subject), "application/zip"
    else:
        abort(404)
    name = f"my-data-{g.group.slug}-{clock.now().date().isoformat()}.{kind}"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
