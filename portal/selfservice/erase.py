"""Routes of "Withdraw and erase my data": an explanation, a mailed link, a final button."""

from flask import g, render_template, request

from portal import sessions, tokens
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
    ticket = self_erasure.status_ticket(record)
    return render_template(
        "selfservice/erased.html",
        record=record,
        **self_erasure.status(g.group.id, {"g": g.group.id, "e": record.id}),
        ticket=ticket,
    )


@blueprint.get("/erasure-status/<ticket>")
def erasure_status(ticket: str):
    """The farewell mail's link: where the recipients' answers stand. It only shows (GET and
    HEAD; every other method is 405), needs no account, and tells nothing about the person."""
    try:
        shown = self_erasure.status(g.group.id, tokens.read("erasure-status", ticket))
    except tokens.ExpiredToken:
        return refused("expired")
    except tokens.InvalidToken:
        shown = None
    if shown is None:
        return refused("invalid")
    return render_template("selfservice/erasure_status.html", **shown)
