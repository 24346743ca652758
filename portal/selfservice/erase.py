"""Routes of "Withdraw and erase my data": an explanation, a mailed link, a final button."""

from flask import g, render_template, request

from portal import sessions, tokens
from portal.core.people import access, self_erasure
from portal.extensions import limiter
from portal.limits import IP_SCOPE, ip_limit, post_only
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


@blueprint.route("/erase/<token>", methods=["GET", "POST"])
def erase_link(token: str):
    """GET shows the final button (mail scanners open links); only the POST erases."""
    try:
        payload = tokens.read("erase", token)
        if request.method == "GET":
            subject = self_erasure.check(g.group.id, payload)
            return render_template("selfservice/erase_confirm.html", token=token, subject=subject)
        record = self_erasure.confirm(g.group.id, payload, client_origin(SOURCE))
    except tokens.ExpiredToken:
        return refused("expired")
    except (tokens.InvalidToken, access.LinkRefused):
        return refused("erase")
    sessions.end()
    return render_template("selfservice/erased.html", record=record)
