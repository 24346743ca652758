"""Recipients of personal data: processing terms per API client, and the disposal records
with each recipient's answer to its erasure request (owners only)."""

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.admin import api_clients, blueprint, require
from portal.admin.forms import TermsForm
from portal.core.console import client_admin
from portal.core.integrations import erasure_requests, recipients
from portal.core.kernel.errors import InvalidFields
from portal.core.people.models.erasure import ErasureRecord
from portal.extensions import db
from portal.forms import refuse


@blueprint.route("/api-clients/<int:client_id>/terms", methods=["GET", "POST"])
def api_client_terms(client_id: int):
    client = api_clients.client_or_404(client_id)
    require("manage_recipients")
    form = TermsForm()
    if form.validate_on_submit():
        try:
            version = client_admin.record_terms(
                g.admin, client, form.text.data, form.agreed_on.data
            )
        except InvalidFields as refused:
            refuse(form, refused.errors)
        else:
            flash(
                _(
                    "Terms version %(v)s recorded: %(name)s receives personal data.",
                    v=version,
                    name=client.name,
                )
            )
            return redirect(url_for("admin.api_client_terms", client_id=client.id))
    return render_template(
        "admin/api_client_terms.html",
        client=client,
        versions=recipients.terms_of(client),
        form=form,
    ), 422 if form.errors else 200


@blueprint.get("/erasures")
def erasures():
    require("view_erasures")
    overdue_only = request.args.get("overdue") == "1"
    return render_template(
        "admin/erasures.html",
        lines=erasure_requests.listing(g.admin.group_id, overdue_only=overdue_only),
        overdue_only=overdue_only,
        overdue=erasure_requests.overdue_count(g.admin.group_id),
        hours=erasure_requests.answer_window().total_seconds() // 3600,
    )


@blueprint.get("/erasures.csv")
def erasures_csv():
    require("view_erasures")
    overdue_only = request.args.get("overdue") == "1"
    lines = erasure_requests.listing(g.admin.group_id, overdue_only=overdue_only, limit=None)
    name = "erasure-requests-overdue.csv" if overdue_only else "erasure-requests.csv"
    return (
        erasure_requests.as_csv(lines),
        200,
        {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


@blueprint.get("/erasures/<erasure_id>")
def erasure_record(erasure_id: str):
    require("view_erasures")
    record = db.session.get(ErasureRecord, erasure_id[:36])
    if record is None or record.group_id != g.admin.group_id:
        abort(404)
    return render_template(
        "admin/erasure_record.html",
        record=record,
        lines=erasure_requests.of_erasure(g.admin.group_id, record.id),
    )
