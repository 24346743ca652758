"""One-click unsubscribe (RFC 8058): the URL in every topic mail's List-Unsubscribe header.

A mail provider POSTs ``List-Unsubscribe=One-Click`` to it with no cookie and no CSRF token,
so this blueprint is exempt from CSRF and never reads or writes the session; it answers 200
without a redirect. A GET only shows a page with one button: mail scanners open links.
"""

from dataclasses import replace

from flask import Blueprint, g, render_template, request
from flask_babel import gettext as _

from portal import tokens
from portal.core.consent import unsubscribe
from portal.core.kernel.errors import InvalidInput
from portal.extensions import csrf
from portal.web import client_origin, scope_to_group

blueprint = Blueprint("unsubscribe", __name__, url_prefix="/<group>/unsubscribe")
scope_to_group(blueprint)
csrf.exempt(blueprint)
ONE_CLICK = "One-Click"


def _problem(message: str, status: int):
    return render_template("unsubscribe/problem.html", message=message), status


@blueprint.route("/<token>", methods=["GET", "POST"])
def one_click(token: str):
    try:
        payload = tokens.read("unsubscribe", token)
    except tokens.ExpiredToken:
        message = _("This unsubscribe link is too old. Use the link in a recent mail instead.")
        return _problem(message, 410)
    except tokens.InvalidToken:
        message = _("This unsubscribe link is not valid. Copy the whole link from the mail.")
        return _problem(message, 400)
    try:
        if request.method == "GET":
            target = unsubscribe.target(g.group.id, payload)
            return render_template("unsubscribe/confirm.html", target=target, token=token)
        if request.form.get("List-Unsubscribe") != ONE_CLICK:
            return _problem(_("Press the button on the unsubscribe page to unsubscribe."), 400)
        origin = replace(client_origin("preference_centre"), evidence={"via": "List-Unsubscribe"})
        target = unsubscribe.one_click(g.group.id, payload, origin)
    except InvalidInput as refused:
        return _problem(str(refused.message), 404)
    return render_template("unsubscribe/done.html", target=target)
