"""Brands: list, create, edit (with logo), archive and restore."""

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.admin import blueprint, brand_or_404, require
from portal.admin.forms import ArchiveForm, brand_form
from portal.core.console import admins, brands
from portal.core.kernel.errors import InvalidFields, InvalidInput
from portal.forms import refuse


@blueprint.get("/brands")
def brand_list():
    require("view_figures")
    return render_template("admin/brands.html", brands=admins.visible_brands(g.admin))


@blueprint.route("/brands/new", methods=["GET", "POST"])
def brand_new():
    require("create_brand")
    form = brand_form(new=True, data=_group_defaults() if request.method == "GET" else None)
    if form.validate_on_submit():
        texts = {language: form[f"text_{language}"].data or "" for language in _languages()}
        try:
            brand = brands.create(g.admin, form.data, texts, form.policy_version.data or "")
        except InvalidFields as refused:
            refuse(form, refused.errors)
        else:
            flash(_("The brand %(name)s is set up. Now add its topics.", name=brand.name))
            return redirect(url_for("admin.topic_list", brand_id=brand.id))
    return render_template("admin/brand_form.html", brand=None, form=form), (
        422 if form.errors else 200
    )


@blueprint.route("/brands/<int:brand_id>", methods=["GET", "POST"])
def brand_edit(brand_id: int):
    brand = brand_or_404(brand_id)
    require("manage_brand", brand)
    saved = {key: getattr(brand, key) for key in brands.SETTINGS}
    form = brand_form(new=False, data=saved if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            logo = uploaded_logo()
            brands.update(g.admin, brand, form.data, logo)
        except InvalidFields as refused:
            refuse(form, refused.errors)
        except InvalidInput as refused:
            refuse(form, {refused.field: refused.message})
        else:
            flash(_("Your changes to %(name)s are saved.", name=brand.name))
            return redirect(url_for("admin.brand_edit", brand_id=brand.id))
    return render_template("admin/brand_form.html", brand=brand, form=form), (
        422 if form.errors else 200
    )


def _group_defaults() -> dict:
    """A new brand starts from the group's settings: its privacy policy, its reply-to, and a
    sender address at its sender domain."""
    group = g.admin.group
    domain = group.sender_domain
    return {
        "colour": "#222222",
        "privacy_policy_url": group.privacy_policy_url,
        "reply_to": group.reply_to,
        "sender_address": f"hello@{domain}" if domain else "",
        "sender_name": group.name,
    }


def uploaded_logo():
    """The logo file of the form, checked (type, size), or None when none was chosen."""
    upload = request.files.get("logo")
    if upload is None or not upload.filename:
        return None
    limit = current_app.config["ADMIN_LOGO_MAX_BYTES"]
    return brands.check_logo(upload.stream.read(limit + 1), limit)


@blueprint.post("/brands/<int:brand_id>/archive")
def brand_archive(brand_id: int):
    brand = brand_or_404(brand_id)
    require("manage_brand", brand)
    archive = ArchiveForm().archived.data == "1"
    brands.set_archived(g.admin, brand, archive)
    if archive:
        flash(
            _(
                "%(name)s is archived: its sign-up page is hidden, its consents are kept.",
                name=brand.name,
            )
        )
    else:
        flash(_("%(name)s is back: its sign-up page is live again.", name=brand.name))
    return redirect(url_for("admin.brand_edit", brand_id=brand.id))


def _languages():
    return current_app.config["LANGUAGES"]
