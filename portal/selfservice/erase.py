"""Routes of "Withdraw and erase my data": an explanation, a mailed link, a final button."""

from flask import g, render_template, request

from portal import sessions
from portal.core.people import access, self_erasure
from portal.extensions import limiter
from portal.limits import IP_SCOPE, ip_limit, post_only
from portal.mailed import Link, mailed_link
from portal.selfservice.blueprint import SOURCE, blueprint, language, refused, sender
from portal.web import client_origin


@blueprint.route("/erase", methods=["GET", "POST"])
@limiter.limit(ip_limit, exempt_when=post_only, scope=IP_SCOPE)
@sessions.require(access.FULL)
def erase():
    """What erasure means; the POST mails the link that alone can confirm it."""
    if request.method == "POST":
        self_erasure.send_link(g.subject, sender(), language())
    return render_template("selfservice/erase.html", sent=request.method == "POST")


def _erase_page(link: Link):
    """GET shows the final button (mail scanners open links); only the POST erases."""
    subject = self_erasure.check(g.group.id, link.payload)
    return render_template("selfservice/erase_confirm.html", token=link.token, subject=subject)


def _erase_refused(reason: str):
    return refused("expired" if reason == "expired" else "erase")


@blueprint.route("/erase/<token>", methods=["GET", "POST"])
@mailed_link("erase", refused=_erase_refused, show=_erase_page)
def erase_link(link: Link):
    record = self_erasure.confirm(g.group.id, link.payload, client_origin(SOURCE))
    sessions.end()
    return render_template("selfservice/erased.html", record=record)
