"""Support lookup: one person by exact address, with a reason, written to the access log."""

from flask import abort, g, render_template, request
from flask_babel import gettext as _

from portal.admin import blueprint, require
from portal.core.console import support, support_erasure
from portal.core.kernel.errors import InvalidFields


@blueprint.route("/support", methods=["GET", "POST"])
def support_lookup():
    require("support")
    errors, result = {}, None
    if request.method == "POST":
        try:
            result = support.look_up(
                g.admin, request.form.get("email", ""), request.form.get("reason", "")
            )
        except InvalidFields as refused:
            errors = refused.errors
    return _page(errors, result, None)


def _page(errors: dict, result, done: str | None):
    """The support page as it stands after a lookup or a withdrawal, typed values kept."""
    return render_template(
        "admin/support.html",
        errors=errors,
        result=result,
        values=request.form,
        requested_by=support.REQUESTED_BY,
        done=done,
    ), 422 if errors else 200


@blueprint.post("/support/withdraw")
def support_withdraw():
    require("support")
    try:
        consent_id = int(request.form.get("consent", ""))
    except ValueError:
        abort(404)
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
    return _page(errors, result, done)


@blueprint.post("/support/erase")
def support_erase():
    """Two steps without JavaScript: check and ask to confirm, then (``confirm=1``) erase."""
    require("support")
    try:
        subject_id = int(request.form.get("subject", ""))
    except ValueError:
        abort(404)
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
        return render_template(
            "admin/support.html",
            errors=refused.errors,
            result=refused.lookup,
            values=request.form,
            requested_by=support.REQUESTED_BY,
            done=None,
        ), 422
    return render_template("admin/support_erased.html", record=record)
