"""One-click unsubscribe (RFC 8058): the URL in every topic mail's List-Unsubscribe header.

A mail provider POSTs ``List-Unsubscribe=One-Click`` to it with no cookie and no CSRF token,
so this blueprint is exempt from CSRF and never reads or writes the session; it answers 200
without a redirect. A GET only shows a page with one button: mail scanners open links.
"""

from dataclasses import replace

from flask import Blueprint, g, render_template
from flask_babel import gettext as _
from wtforms import StringField

from portal.core.consent import unsubscribe
from portal.core.kernel.errors import InvalidInput
from portal.extensions import csrf
from portal.forms import Form
from portal.mailed import Link, mailed_link
from portal.web import client_origin, scope_to_group

blueprint = Blueprint("unsubscribe", __name__, url_prefix="/<group>/unsubscribe")
scope_to_group(blueprint)
csrf.exempt(blueprint)
ONE_CLICK = "One-Click"


class OneClickForm(Form):
    """The body RFC 8058 prescribes (``List-Unsubscribe=One-Click``), which the page's button
    posts too. No CSRF token: the mailed link's own token proves where it comes from."""

    class Meta:
        csrf = False

    list_unsubscribe = StringField(name="List-Unsubscribe")

    def is_one_click(self) -> bool:
        return self.list_unsubscribe.data == ONE_CLICK


def _problem(message: str, status: int):
    return render_template("unsubscribe/problem.html", message=message), status


def _refused(reason: str):
    if reason == "expired":
        message = _("This unsubscribe link is too old. Use the link in a recent mail instead.")
        return _problem(message, 410)
    return _problem(
        _("This unsubscribe link is not valid. Copy the whole link from the mail."), 400
    )


def _page(link: Link):
    try:
        target = unsubscribe.target(g.group.id, link.payload)
    except InvalidInput as refused:
        return _problem(str(refused.message), 404)
    return render_template("unsubscribe/confirm.html", target=target, token=link.token)


@blueprint.route("/<token>", methods=["GET", "POST"])
@mailed_link("unsubscribe", refused=_refused, show=_page)
def one_click(link: Link):
    if not OneClickForm().is_one_click():
        return _problem(_("Press the button on the unsubscribe page to unsubscribe."), 400)
    origin = replace(client_origin("preference_centre"), evidence={"via": "List-Unsubscribe"})
    try:
        target = unsubscribe.one_click(g.group.id, link.payload, origin)
    except InvalidInput as refused:
        return _problem(str(refused.message), 404)
    return render_template("unsubscribe/done.html", target=target)
