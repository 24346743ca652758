"""The group's own settings page, for owners: name, languages, postal address, defaults."""

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.admin import blueprint, require
from portal.admin.brands import uploaded_logo
from portal.core.console import groups
from portal.core.kernel.errors import InvalidFields, InvalidInput


@blueprint.route("/group", methods=["GET", "POST"])
def group_settings():
    require("manage_group")
    errors = {}
    if request.method == "POST":
        try:
            logo = uploaded_logo()
            groups.update(g.admin, request.form, request.form.getlist("languages"), logo)
        except InvalidFields as refused:
            errors = refused.errors
        except InvalidInput as refused:
            errors = {refused.field: refused.message}
        else:
            flash(_("The settings of %(group)s are saved.", group=g.group.name))
            return redirect(url_for("admin.group_settings"))
        values = request.form.to_dict() | {"languages": request.form.getlist("languages")}
    else:
        values = {key: getattr(g.group, key) for key in groups.SETTINGS}
    return render_template(
        "admin/group_form.html", values=values, errors=errors, group=g.group
    ), 422 if errors else 200
