"""The pages behind lifecycle reminders' links; the rules live in portal.core.lifecycle.

Every link's GET only shows a page with a button: mail scanners open links, and a scanner
must not confirm anything on the person's behalf. Only the POST acts.
"""

from flask import Blueprint, g, render_template
from flask_babel import gettext as _

from portal.core.kernel.errors import InvalidInput
from portal.core.lifecycle import answers
from portal.core.lifecycle.answers import Answer
from portal.core.lifecycle.models import FRESHNESS, REPERMISSION
from portal.core.lifecycle.reminders import shown
from portal.core.people import profile
from portal.core.people.access import LinkRefused
from portal.mailed import Link, mailed_link
from portal.preferences.forms import ContactForm, read_contact
from portal.web import client_origin, scope_to_group

blueprint = Blueprint("lifecycle", __name__, url_prefix="/<group>")
scope_to_group(blueprint)


def _refused(reason: str):
    status = 410 if reason == "expired" else 400
    return render_template("lifecycle/refused.html", reason=reason), status


def _notice(link: Link, rule: str):
    notice = answers.find_notice(g.group.id, link.payload, rule)
    if notice is None:
        raise LinkRefused("invalid")
    return notice


def _answered(outcome: Answer, kind: str):
    if outcome is Answer.UNKNOWN:
        raise LinkRefused("invalid")
    return render_template("lifecycle/answered.html", outcome=outcome.value, kind=kind)


def _still_right_page(link: Link):
    notice = _notice(link, FRESHNESS)
    if notice.answered_at is not None:
        return _answered(Answer.ALREADY, "details")
    held = profile.fields_of(answers.subject_of(notice))
    items = [shown(name, held[name].value) for name in notice.fields if name in held]
    return render_template("lifecycle/still_right.html", items=items, token=link.token)


@blueprint.route("/still-right/<token>", methods=["GET", "POST"])
@mailed_link("still-right", refused=_refused, show=_still_right_page)
def still_right(link: Link):
    """ "Still right": one button confirms every field the mail listed."""
    return _answered(answers.still_right(g.group.id, link.payload), "details")


def _stored(notice) -> dict[str, str]:
    """The form's fields filled with what we hold, as the person would correct them."""
    held = profile.fields_of(answers.subject_of(notice))
    values = {}
    if profile.MOBILE in held:
        values["mobile_number"] = held[profile.MOBILE].value
    if profile.POSTAL in held:
        parts = profile.postal_parts(held[profile.POSTAL].value)
        lines = [*parts["lines"], "", ""]
        values.update(
            postal_line1=lines[0],
            postal_line2=lines[1],
            postal_postcode=parts["postcode"],
            postal_city=parts["city"],
            postal_country=parts["country"],
        )
    return values


def _update_page(link: Link, errors=None, filled=None):
    notice = _notice(link, FRESHNESS)
    return render_template(
        "lifecycle/update.html",
        fields=notice.fields,
        typed=_stored(notice) if filled is None else filled,
        errors=errors or {},
        token=link.token,
    ), (422 if errors else 200)


@blueprint.route("/details/<token>", methods=["GET", "POST"])
@mailed_link("still-right", refused=_refused, show=_update_page)
def update(link: Link):
    """ "Update": the listed fields, filled in, to correct and save (confirming them)."""
    notice = _notice(link, FRESHNESS)
    form = ContactForm()
    try:
        values = read_contact(form.typed())
        for name in notice.fields:
            if name not in values:
                raise _missing(name)
        return _answered(answers.update(g.group.id, link.payload, values), "details")
    except InvalidInput as problem:
        return _update_page(link, {problem.field: str(problem.message)}, form.typed())


def _missing(name: str) -> InvalidInput:
    if name == profile.MOBILE:
        return InvalidInput("mobile_number", _("Enter your mobile number."))
    return InvalidInput("postal_line1", _("Enter the street and number."))


def _keep_page(link: Link):
    notice = _notice(link, REPERMISSION)
    if notice.lapsed_at is not None:
        return _answered(Answer.LAPSED, "consents")
    if notice.answered_at is not None:
        return _answered(Answer.ALREADY, "consents")
    return render_template("lifecycle/keep.html", token=link.token)


@blueprint.route("/keep/<token>", methods=["GET", "POST"])
@mailed_link("keep", refused=_refused, show=_keep_page)
def keep(link: Link):
    """ "Keep my subscriptions": the POST confirms every consent still held, in the ledger."""
    notice = _notice(link, REPERMISSION)
    origin = client_origin("retention", evidence={"rule": REPERMISSION, "notice": notice.id})
    return _answered(answers.keep(g.group.id, link.payload, origin), "consents")
