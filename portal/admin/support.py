"""Support lookup: one person by exact address, with a reason, written to the access log.

The lookup is a form of its own (``SupportLookupForm``); the person's page then holds one
small withdrawal form per consent and an erasure form, whose fields are named after the row
they act on, so their refusals (keyed the same way) land beside the right field."""

from flask import abort, g, render_template
from flask_babel import gettext as _

from portal.admin import blueprint, require
from portal.admin.forms import EraseForm, SupportLookupForm, WithdrawForm
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


def _page(form: SupportLookupForm, errors: dict, result, done: str | None, erase=None):
    """The support page as it stands after a lookup, a withdrawal or an erasure refused:
    the lookup as typed, and the refusals of a row's form keyed by its field's id."""
    return render_template(
        "admin/support.html",
        form=form,
        errors=errors,
        result=result,
        erase_values=erase.data if erase is not None else {},
        requested_by=support.REQUESTED_BY,
        done=done,
    ), 422 if errors or form.errors else 200


@blueprint.post("/support/withdraw")
def support_withdraw():
    require("support")
    form = WithdrawForm()
    consent_id = form.consent_id()
    if consent_id is None or not form.validate_on_submit():
        abort(404)
    errors, done = {}, None
    try:
        result = support.withdraw(
            g.admin, consent_id, form.requested_by.data or "", form.reason.data or ""
        )
        done = _("The withdrawal is recorded.")
    except LookupError:
        abort(404)
    except InvalidFields as refused:
        # Keyed by the row's field ids, so each refusal lands beside its field.
        errors = {f"{key}-{consent_id}": message for key, message in refused.errors.items()}
        result = refused.lookup
    return _page(SupportLookupForm(formdata=None), errors, result, done)


@blueprint.post("/support/erase")
def support_erase():
    """Two steps without JavaScript: check and ask to confirm, then (``confirm=1``) erase."""
    require("support")
    form = EraseForm()
    subject_id = form.subject_id()
    if subject_id is None or not form.validate_on_submit():
        abort(404)
    requested_by, reason = form.requested_by.data or "", form.reason.data or ""
    try:
        if form.confirm.data != "1":
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
        return _page(SupportLookupForm(formdata=None), refused.errors, refused.lookup, None, form)
    return render_template("admin/support_erased.html", record=record)
