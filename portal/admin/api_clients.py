"""API clients of the group: list, create (the key shown once), rotate and retire keys, revoke,
webhook delivery log."""

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import get_timezone, ngettext
from flask_babel import gettext as _

from portal.admin import blueprint, require
from portal.admin.forms import ApiClientForm, RedeliverForm, RotateForm
from portal.core.console import admins, client_admin
from portal.core.integrations.models.api import SCOPES, ApiClient
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidFields, NotFound
from portal.core.kernel.models.base import MAX_ID
from portal.extensions import db
from portal.forms import refuse


def client_or_404(client_id: int) -> ApiClient:
    """A client this admin may manage; others (another group's, other brands') are not found."""
    require("manage_api_clients")
    client = db.session.get(ApiClient, client_id)
    if client is None or not client_admin.may_manage(g.admin, client):
        abort(404)
    return client


def _brand_names() -> dict:
    return {brand.id: brand.name for brand in g.admin.group.brands}


@blueprint.get("/api-clients")
def api_client_list():
    require("manage_api_clients")
    return render_template(
        "admin/api_clients.html",
        clients=client_admin.visible(g.admin),
        brand_names=_brand_names(),
    )


@blueprint.route("/api-clients/new", methods=["GET", "POST"])
def api_client_new():
    require("manage_api_clients")
    form = ApiClientForm()
    brands = admins.visible_brands(g.admin)
    form.scopes.choices = [(scope, scope) for scope in SCOPES]
    form.brands.choices = [(str(brand.id), brand.name) for brand in brands]
    if form.validate_on_submit():
        try:
            client, key = client_admin.create(
                g.admin,
                form.name.data or "",
                form.scopes.data or [],
                form.brand_ids(),
                form.verified_source.data,
            )
        except InvalidFields as refused:
            refuse(form, refused.errors)
        else:
            # Rendered, not redirected: the key exists only in this answer (no-store).
            return render_template("admin/api_client_key.html", client=client, key=key)
    return render_template("admin/api_client_form.html", form=form), 422 if form.errors else 200


@blueprint.get("/api-clients/<int:client_id>")
def api_client_show(client_id: int, form: RotateForm | None = None):
    client = client_or_404(client_id)
    if form is None:
        hours = round(current_app.config["API_KEY_OVERLAP_HOURS"])
        form = RotateForm(formdata=None, data={"overlap_hours": str(hours)})
    return render_template(
        "admin/api_client.html",
        client=client,
        endpoints=client_admin.endpoints(client),
        brand_names=_brand_names(),
        previous_valid=client.previous_key_until is not None
        and client.previous_key_until > clock.now(),
        form=form,
    ), 422 if form.errors else 200


@blueprint.post("/api-clients/<int:client_id>/rotate")
def api_client_rotate(client_id: int):
    client = client_or_404(client_id)
    form = RotateForm()
    if form.validate_on_submit():
        try:
            key = client_admin.rotate_key(g.admin, client, form.hours())
        except InvalidFields as refused:
            refuse(form, refused.errors)
        else:
            # Rendered, not redirected: the key exists only in this answer (no-store).
            return render_template(
                "admin/api_client_key.html", client=client, key=key, rotated=True
            )
    return api_client_show(client_id, form)


@blueprint.route("/api-clients/<int:client_id>/retire", methods=["GET", "POST"])
def api_client_retire(client_id: int):
    client = client_or_404(client_id)
    if request.method == "POST":
        if client_admin.retire_key(g.admin, client):
            flash(_("The previous key of %(name)s no longer works.", name=client.name))
        return redirect(url_for("admin.api_client_show", client_id=client.id))
    return render_template("admin/api_client_retire.html", client=client)


@blueprint.route("/api-clients/<int:client_id>/revoke", methods=["GET", "POST"])
def api_client_revoke(client_id: int):
    client = client_or_404(client_id)
    if request.method == "POST":
        if client_admin.revoke(g.admin, client):
            flash(_("%(name)s is revoked: its key no longer works.", name=client.name))
        return redirect(url_for("admin.api_client_list"))
    return render_template("admin/api_client_revoke.html", client=client)


@blueprint.get("/api-clients/<int:client_id>/webhooks/<int:endpoint_id>")
def webhook_deliveries(client_id: int, endpoint_id: int, form: RedeliverForm | None = None):
    client = client_or_404(client_id)
    try:
        deliveries = client_admin.deliveries(client, endpoint_id)
    except NotFound:
        abort(404)
    endpoint = next(e for e in client_admin.endpoints(client) if e.id == endpoint_id)
    form = form or RedeliverForm(formdata=None)
    return render_template(
        "admin/webhook_deliveries.html",
        client=client,
        endpoint=endpoint,
        deliveries=deliveries,
        form=form,
        zone=str(get_timezone()),
    ), 422 if form.errors else 200


@blueprint.post("/api-clients/<int:client_id>/webhooks/<int:endpoint_id>/ping")
def webhook_ping(client_id: int, endpoint_id: int):
    client = client_or_404(client_id)
    try:
        client_admin.ping(g.admin, client, endpoint_id)
    except NotFound:
        abort(404)
    flash(_("A test ping is queued: it appears below once the webhook worker has sent it."))
    return redirect(
        url_for("admin.webhook_deliveries", client_id=client_id, endpoint_id=endpoint_id)
    )


@blueprint.post("/api-clients/<int:client_id>/webhooks/<int:endpoint_id>/redeliver")
def webhook_redeliver(client_id: int, endpoint_id: int):
    """One failed delivery (``delivery``), or every failed one since a time (``since``, in the
    reader's time zone)."""
    client = client_or_404(client_id)
    form = RedeliverForm()
    if not form.validate_on_submit():
        return webhook_deliveries(client_id, endpoint_id, form)
    delivery_id, since = None, None
    if form.delivery.data:
        try:
            delivery_id = min(int(form.delivery.data), MAX_ID)
        except ValueError:
            abort(404)
    else:
        since = form.since_utc()
        if since is None:
            message = _("Give the time to send failed deliveries again from.")
            refuse(form, {"since": message})
            return webhook_deliveries(client_id, endpoint_id, form)
    try:
        count = client_admin.redeliver(g.admin, client, endpoint_id, delivery_id, since)
    except NotFound:
        abort(404)
    except InvalidFields as refused:
        # A delivery that has not failed: its row's button is no field to name.
        form.form_errors.extend(refused.errors.values())
        return webhook_deliveries(client_id, endpoint_id, form)
    flash(ngettext("%(num)d delivery queued again.", "%(num)d deliveries queued again.", count))
    return redirect(
        url_for("admin.webhook_deliveries", client_id=client_id, endpoint_id=endpoint_id)
    )
