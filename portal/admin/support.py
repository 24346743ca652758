"""Support lookup: one person by exact address, with a reason, written to the access log.

The lookup is a form of its own (``SupportLookupForm``); the person's page then holds one
small withdrawal form per consent and an erasure form, whose fields are named after the row
they act on, so their refusals (keyed the same way) land beside the right field."""

from flask import abort, g, render_template, request
from flask_babel import gettext as _

from portal.admin import blueprint, require
from portal.admin.forms import SupportLookupForm
from portal.core.console import support, support_erasure
from portal.core.kernel.errors import InvalidFields
from portal.forms import refuse


@blueprint.route("/support", methods=["GET", "POST"])
def support_lookup():
    require("support")
    form, result = SupportLookupForm(), None
    if form.validate_on_submit():
        try:
            result = support.look_up(g.admin, form.email.data or "", form.reason.data or "")
        except InvalidFields as refused:
            refuse(form, refused.errors)
    return _page(form, {}, result, None)


def _page(form: SupportLookupForm, errors: dict, result, done: str | None):
    """The support page as it stands after a lookup, a withdrawal or an erasure refused:
    the lookup as typed, and the refusals of a row's form keyed by its field's id."""
    return render_template(
        "admin/support.html",
        form=form,
        errors=errors,
        result=result,
        values=request.form,
        requested_by=support.REQUESTED_BY,
        done=done,
    ), 422 if errors or form.errors else 200


def _row_number(name: str) -> int:
    try:
        return int(request.form.get(name, ""))
    except ValueError:
        abort(404)


@blueprint.post("/support/withdraw")
def support_withdraw():
    require("support")
    consent_id = _row_number("consent")
    errors, done = {}, None
    try:
        result = support.withdraw(
            g.admin,
            consent_id,
            request.form.get("requested_by", ""),
            # The page names each row's reason box after its consent, so errors land in place.
            request.form.get(f"reason-{consent_id}", request.form.get("reason", "")),
        )
        done = _("The withdrawal is recorded.")
    except LookupError:
        abort(404)
    except InvalidFields as refused:
        errors = {f"{key}-{consent_id}": message for key, message in refused.errors.items()}
        result = refused.lookup
    return _page(SupportLookupForm(formdata=None), errors, result, done)


@blueprint.post("/support/erase")
def support_erase():
    """Two steps without JavaScript: check and ask to confirm, then (``confirm=1``) erase."""
    require("support")
    subject_id = _row_number("subject")
    requested_by, reason = request.form.get("requested_by", ""), request.form.get("reason", "")
    try:
        if request.form.get("confirm") != "1":
            support_erasure.check(g.admin, subject_id, requested_by, reason)
            return render_template(
                "admin/support_erase.html",
                subject_id=subject_id,
                requested_by=requested_by,
                reason=reason,
            )
        record = support_erasure.erase(g.admin, subject_id, requested_by, reason)
    except LookupError:
        abort(404)
    except InvalidFields as refused:
        return _page(SupportLookupForm(formdata=None), refused.errors, refused.lookup, None)
    return render_template("admin/support_erased.html", record=record)
