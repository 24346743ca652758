"""A brand's topics, its consent text versions and its privacy-policy version."""

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.admin import blueprint, brand_or_404, require, topic_or_404
from portal.core.consent import topics
from portal.core.consent.signup import latest_text
from portal.core.kernel.errors import InvalidFields, InvalidInput
from portal.core.kernel.models.base import CHANNELS
from portal.core.kernel.models.group import ConsentText
from portal.extensions import db


def _form_data() -> dict:
    data = request.form.to_dict()
    data["channels"] = request.form.getlist("channels")
    return data


def _topic_values(topic) -> dict:
    values = {"key": topic.key, "channels": topic.channels, "marketing": topic.marketing}
    for language in current_app.config["LANGUAGES"]:
        values[f"name_{language}"] = topic.names.get(language, "")
        values[f"description_{language}"] = topic.descriptions.get(language, "")
    return values


@blueprint.get("/brands/<int:brand_id>/topics")
def topic_list(brand_id: int):
    brand = brand_or_404(brand_id)
    require("manage_brand", brand)
    versions = db.session.scalars(
        db.select(ConsentText)
        .where(ConsentText.brand_id == brand.id)
        .order_by(ConsentText.version.desc())
    ).all()
    return render_template("admin/topics.html", brand=brand, versions=versions, errors={})


@blueprint.route("/brands/<int:brand_id>/topics/new", methods=["GET", "POST"])
def topic_new(brand_id: int):
    brand = brand_or_404(brand_id)
    require("manage_brand", brand)
    errors = {}
    if request.method == "POST":
        try:
            topic = topics.create_topic(g.admin, brand, _form_data())
        except InvalidFields as refused:
            errors = refused.errors
        else:
            flash(_("The topic %(name)s is added.", name=topic.name("en")))
            return redirect(url_for("admin.topic_list", brand_id=brand.id))
    values = _form_data() if request.method == "POST" else {"channels": ["email"], "marketing": "1"}
    return _form(brand, None, values, errors)


@blueprint.route("/topics/<int:topic_id>", methods=["GET", "POST"])
def topic_edit(topic_id: int):
    topic = topic_or_404(topic_id)
    require("manage_brand", topic.brand)
    errors = {}
    if request.method == "POST":
        try:
            topics.update_topic(g.admin, topic, _form_data())
        except InvalidFields as refused:
            errors = refused.errors
        else:
            flash(_("The topic %(name)s is saved.", name=topic.name("en")))
            return redirect(url_for("admin.topic_list", brand_id=topic.brand_id))
    values = _form_data() if request.method == "POST" else _topic_values(topic)
    return _form(topic.brand, topic, values, errors)


def _form(brand, topic, values, errors):
    return render_template(
        "admin/topic_form.html",
        brand=brand,
        topic=topic,
        values=values,
        errors=errors,
        channels=CHANNELS,
    ), 422 if errors else 200


@blueprint.route("/brands/<int:brand_id>/texts/new", methods=["GET", "POST"])
def text_new(brand_id: int):
    """A new consent text version, started from the latest one."""
    brand = brand_or_404(brand_id)
    require("manage_brand", brand)
    errors = {}
    languages = current_app.config["LANGUAGES"]
    if request.method == "POST":
        texts = {language: request.form.get(f"text_{language}", "") for language in languages}
        try:
            text = topics.new_text(g.admin, brand, texts)
        except InvalidFields as refused:
            errors = refused.errors
        except InvalidInput as refused:
            errors = {refused.field: refused.message}
        else:
            flash(
                _(
                    "Version %(version)s of the consent text is saved and shown from now on.",
                    version=text.version,
                )
            )
            return redirect(url_for("admin.topic_list", brand_id=brand.id))
        values = request.form
    else:
        latest = latest_text(brand)
        values = (
            {f"text_{lang}": latest.texts.get(lang, "") for lang in languages} if latest else {}
        )
    return render_template("admin/text_form.html", brand=brand, values=values, errors=errors), (
        422 if errors else 200
    )


@blueprint.post("/brands/<int:brand_id>/policy")
def policy(brand_id: int):
    """Raise the policy version; with "ask again", first say how many people it will mail and
    ask for confirmation, then start the job and show its page."""
    brand = brand_or_404(brand_id)
    require("manage_brand", brand)
    version = request.form.get("policy_version", "")
    ask_again = request.form.get("ask_again") == "1"
    try:
        if ask_again and request.form.get("confirmed") != "1":
            return render_template(
                "admin/policy_confirm.html",
                brand=brand,
                version=topics.check_version(brand, version),
                count=topics.reconsent_audience(brand),
            )
        job = topics.raise_policy(g.admin, brand, version, ask_again)
    except InvalidInput as refused:
        versions = db.session.scalars(
            db.select(ConsentText)
            .where(ConsentText.brand_id == brand.id)
            .order_by(ConsentText.version.desc())
        ).all()
        return render_template(
            "admin/topics.html",
            brand=brand,
            versions=versions,
            errors={refused.field: refused.message},
            typed=request.form,
        ), 422
    flash(_("The privacy policy version is now %(version)s.", version=brand.policy_version))
    if job is not None:
        return redirect(url_for("admin.job", job_id=job.id))
    return redirect(url_for("admin.topic_list", brand_id=brand.id))
