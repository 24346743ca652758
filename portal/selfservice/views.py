"""Routes of "My data": see everything held, correct it, change the address, download it.

Everything here needs the "full" level (a fresh magic link), except opening the link mailed
to a new address, which proves itself.
"""

from flask import Response, abort, g, render_template
from flask_babel import gettext as _

from portal import sessions
from portal.core.consent import labels
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidFields, InvalidInput
from portal.core.people import access, email_change, export, mydata, profile
from portal.extensions import htmx, limiter
from portal.limits import ADDRESS_SCOPE, IP_SCOPE, address_key, address_limit, ip_limit, post_only
from portal.mailed import Link, mailed_link
from portal.selfservice.blueprint import SOURCE, blueprint, language, refused, sender
from portal.selfservice.forms import (
    FIELD_OF,
    INPUTS,
    EmailForm,
    ProfileForm,
    read_field,
    stored,
    typed,
)
from portal.web import client_origin


def field_labels() -> dict[str, str]:
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
        "channels": labels.channels(),
        "states": labels.states(),
        "actions": labels.actions(),
        "hows": labels.sources(),
        "actors": labels.actors(),
    }


def _context(**context) -> dict:
    data = mydata.gather(g.subject)
    values = stored(g.subject, data.fields)
    values.update(context.pop("typed", {}))
    context.setdefault("errors", {})
    context.setdefault("email_form", EmailForm(formdata=None))
    context.update(inputs=INPUTS, field_of=FIELD_OF)
    return {"data": data, "values": values, "labels": field_labels(), "words": words(), **context}


def _page(status: int = 200, **context):
    return render_template("selfservice/my_data.html", **_context(**context)), status


@blueprint.get("/")
@sessions.require(access.FULL)
def page():
    return _page()


@blueprint.post("/profile")
@sessions.require(access.FULL)
def save_profile():
    """Save the whole profile in one transaction; with htmx the answer is that section alone."""
    names = profile.names_of(g.group)
    typed_in = ProfileForm().typed()
    values, errors = {}, {}
    for name in names:
        try:
            values[name] = read_field(name, typed_in)
        except InvalidInput as refused:
            errors[refused.field] = str(refused.message)
    if not errors:
        try:
            profile.edit_all(g.subject, values, actor="subject")
        except InvalidFields as refused:
            errors.update(refused.errors)
    context = {"errors": errors, "saved": not errors}
    if errors:
        context["typed"] = typed(names, typed_in)
    if htmx:  # htmx swaps only 2xx answers: the errors are in the swapped section
        return render_template("selfservice/_profile.html", **_context(**context))
    return _page(422 if errors else 200, **context)


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


def _email_page(link: Link):
    """The link mailed to the new address: GET shows a button (scanners), POST confirms."""
    change = email_change.check(g.group.id, link.payload)
    return render_template("selfservice/email_confirm.html", token=link.token, change=change)


@blueprint.route("/email/confirm/<token>", methods=["GET", "POST"])
@mailed_link("change-email", refused=refused, show=_email_page)
def confirm_email(link: Link):
    try:
        subject = email_change.confirm(g.group.id, link.payload, client_origin(SOURCE))
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
