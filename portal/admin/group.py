"""The group's own settings page, for owners: name, languages, postal address, defaults."""

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.admin import blueprint, require
from portal.admin.brands import uploaded_logo
from portal.admin.forms import GroupForm
from portal.core.console import groups
from portal.core.kernel.errors import InvalidFields, InvalidInput
from portal.forms import refuse


@blueprint.route("/group", methods=["GET", "POST"])
def group_settings():
    require("manage_group")
    form = GroupForm(obj=g.group if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            logo = uploaded_logo()
            groups.update(g.admin, form.data, form.languages.data or [], logo)
        except InvalidFields as refused:
            refuse(form, refused.errors)
        except InvalidInput as refused:
            refuse(form, {refused.field: refused.message})
        else:
            flash(_("The settings of %(group)s are saved.", group=g.group.name))
            return redirect(url_for("admin.group_settings"))
    return render_template("admin/group_form.html", form=form, group=g.group), (
        422 if form.errors else 200
    )
