"""The pages behind lifecycle reminders' links; the rules live in portal.core.lifecycle.

Every link's GET only shows a page with a button: mail scanners open links, and a scanner
must not confirm anything on the person's behalf. Only the POST acts.
"""

from flask import Blueprint, g, render_template, request
from flask_babel import gettext as _

from portal import tokens
from portal.core.kernel.errors import InvalidInput
from portal.core.lifecycle import answers
from portal.core.lifecycle.answers import Answer
from portal.core.lifecycle.models import FRESHNESS, REPERMISSION
from portal.core.lifecycle.reminders import shown
from portal.core.people import profile
from portal.preferences.forms import read_contact, typed
from portal.web import client_origin, scope_to_group

blueprint = Blueprint("lifecycle", __name__, url_prefix="/<group>")
scope_to_group(blueprint)


class Refused(Exception):
    def __init__(self, reason: str):
        self.reason = reason


def _notice(purpose: str, rule: str, token: str):
    try:
        payload = tokens.read(purpose, token)
    except tokens.ExpiredToken:
        raise Refused("expired") from None
    except tokens.InvalidToken:
        raise Refused("invalid") from None
    notice = answers.find_notice(g.group.id, payload, rule)
    if notice is None:
        raise Refused("invalid")
    return payload, notice


@blueprint.errorhandler(Refused)
def refused(error: Refused):
    status = 410 if error.reason == "expired" else 400
    return render_template("lifecycle/refused.html", reason=error.reason), status


def _answered(outcome: Answer, kind: str):
    if outcome is Answer.UNKNOWN:
        raise Refused("invalid")
    return render_template("lifecycle/answered.html", outcome=outcome.value, kind=kind)


@blueprint.route("/still-right/<token>", methods=["GET", "POST"])
def still_right(token: str):
    """ "Still right": one button confirms every field the mail listed."""
    payload, notice = _notice("still-right", FRESHNESS, token)
    if request.method == "POST":
        return _answered(answers.still_right(g.group.id, payload), "details")
    if notice.answered_at is not None:
        return _answered(Answer.ALREADY, "details")
    held = profile.fields_of(answers.subject_of(notice))
    items = [shown(name, held[name].value) for name in notice.fields if name in held]
    return render_template("lifecycle/still_right.html", items=items, token=token)


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


@blueprint.route("/details/<token>", methods=["GET", "POST"])
def update(token: str):
    """ "Update": the listed fields, filled in, to correct and save (confirming them)."""
    payload, notice = _notice("still-right", FRESHNESS, token)
    errors = {}
    if request.method == "POST":
        try:
            values = read_contact(request.form)
            for name in notice.fields:
                if name not in values:
                    raise _missing(name)
            return _answered(answers.update(g.group.id, payload, values), "details")
        except InvalidInput as problem:
            errors[problem.field] = str(problem.message)
        filled = typed(request.form)
    else:
        filled = _stored(notice)
    return render_template(
        "lifecycle/update.html",
        fields=notice.fields,
        typed=filled,
        errors=errors,
        token=token,
    ), (422 if errors else 200)


def _missing(name: str) -> InvalidInput:
    if name == profile.MOBILE:
        return InvalidInput("mobile_number", _("Enter your mobile number."))
    return InvalidInput("postal_line1", _("Enter the street and number."))


@blueprint.route("/keep/<token>", methods=["GET", "POST"])
def keep(token: str):
    """ "Keep my subscriptions": the POST confirms every consent still held, in the ledger."""
    payload, notice = _notice("keep", REPERMISSION, token)
    if request.method == "POST":
        origin = client_origin("retention", evidence={"rule": REPERMISSION, "notice": notice.id})
        return _answered(answers.keep(g.group.id, payload, origin), "consents")
    if notice.lapsed_at is not None:
        return _answered(Answer.LAPSED, "consents")
    if notice.answered_at is not None:
        return _answered(Answer.ALREADY, "consents")
    return render_template("lifecycle/keep.html", token=token)
