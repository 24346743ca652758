"""A brand's topics, its consent text versions and its privacy-policy version."""

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.admin import blueprint, brand_or_404, require, topic_or_404
from portal.admin.forms import PolicyForm, text_form, topic_form
from portal.core.consent import topics
from portal.core.consent.signup import latest_text
from portal.core.kernel.errors import InvalidFields, InvalidInput
from portal.core.kernel.models.group import ConsentText
from portal.extensions import db
from portal.forms import refuse


def _topic_values(topic) -> dict:
    values = {"channels": topic.channels, "marketing": topic.marketing}
    for language in current_app.config["LANGUAGES"]:
        values[f"name_{language}"] = topic.names.get(language, "")
        values[f"description_{language}"] = topic.descriptions.get(language, "")
    return values


def _versions(brand) -> list[ConsentText]:
    return db.session.scalars(
        db.select(ConsentText)
        .where(ConsentText.brand_id == brand.id)
        .order_by(ConsentText.version.desc())
    ).all()


@blueprint.get("/brands/<int:brand_id>/topics")
def topic_list(brand_id: int):
    brand = brand_or_404(brand_id)
    require("manage_brand", brand)
    return render_template(
        "admin/topics.html", brand=brand, versions=_versions(brand), form=PolicyForm(formdata=None)
    )


@blueprint.route("/brands/<int:brand_id>/topics/new", methods=["GET", "POST"])
def topic_new(brand_id: int):
    brand = brand_or_404(brand_id)
    require("manage_brand", brand)
    defaults = {"channels": ["email"], "marketing": True}
    form = topic_form(new=True, data=defaults if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            topic = topics.create_topic(g.admin, brand, form.data)
        except InvalidFields as refused:
            refuse(form, refused.errors)
        else:
            flash(_("The topic %(name)s is added.", name=topic.name("en")))
            return redirect(url_for("admin.topic_list", brand_id=brand.id))
    return _form(brand, None, form)


@blueprint.route("/topics/<int:topic_id>", methods=["GET", "POST"])
def topic_edit(topic_id: int):
    topic = topic_or_404(topic_id)
    require("manage_brand", topic.brand)
    form = topic_form(new=False, data=_topic_values(topic) if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            topics.update_topic(g.admin, topic, form.data)
        except InvalidFields as refused:
            refuse(form, refused.errors)
        else:
            flash(_("The topic %(name)s is saved.", name=topic.name("en")))
            return redirect(url_for("admin.topic_list", brand_id=topic.brand_id))
    return _form(topic.brand, topic, form)


def _form(brand, topic, form):
    return render_template(
        "admin/topic_form.html", brand=brand, topic=topic, form=form
    ), 422 if form.errors else 200


@blueprint.route("/brands/<int:brand_id>/texts/new", methods=["GET", "POST"])
def text_new(brand_id: int):
    """A new consent text version, started from the latest one."""
    brand = brand_or_404(brand_id)
    require("manage_brand", brand)
    languages = current_app.config["LANGUAGES"]
    latest = latest_text(brand) if request.method == "GET" else None
    form = text_form(
        data={f"text_{lang}": latest.texts.get(lang, "") for lang in languages} if latest else None
    )
    if form.validate_on_submit():
        texts = {language: form[f"text_{language}"].data or "" for language in languages}
        try:
            text = topics.new_text(g.admin, brand, texts)
        except InvalidFields as refused:
            refuse(form, refused.errors)
        except InvalidInput as refused:
            refuse(form, {refused.field: refused.message})
        else:
            flash(
                _(
                    "Version %(version)s of the consent text is saved and shown from now on.",
                    version=text.version,
                )
            )
            return redirect(url_for("admin.topic_list", brand_id=brand.id))
    return render_template("admin/text_form.html", brand=brand, form=form), (
        422 if form.errors else 200
    )


@blueprint.post("/brands/<int:brand_id>/policy")
def policy(brand_id: int):
    """Raise the policy version; with "ask again", first say how many people it will mail and
    ask for confirmation, then start the job and show its page."""
    brand = brand_or_404(brand_id)
    require("manage_brand", brand)
    form = PolicyForm()
    if form.validate_on_submit():
        version, ask_again = form.policy_version.data or "", form.ask_again.data
        try:
            if ask_again and form.confirmed.data != "1":
                return render_template(
                    "admin/policy_confirm.html",
                    brand=brand,
                    version=topics.check_version(brand, version),
                    count=topics.reconsent_audience(brand),
                )
            job = topics.raise_policy(g.admin, brand, version, ask_again)
        except InvalidInput as refused:
            refuse(form, {refused.field: refused.message})
        else:
            flash(_("The privacy policy version is now %(version)s.", version=brand.policy_version))
            if job is not None:
                return redirect(url_for("admin.job", job_id=job.id))
            return redirect(url_for("admin.topic_list", brand_id=brand.id))
    return render_template(
        "admin/topics.html", brand=brand, versions=_versions(brand), form=form
    ), 422
