"""The pages behind links in mails: one way to read a link's token, refuse it, or act on it.

Mail scanners, link checkers and previews open every link of a mail, with GET, HEAD and
sometimes stranger methods, and CSRF protection does not cover GET or HEAD. So a mailed link
acts only on a deliberate POST: the button of the page its GET shows. Every other method
shows that page (GET, HEAD) or is refused by the router (405), and changes and consumes
nothing. Routes using ``mailed_link`` carry the token purpose in ``view.mailed_link``, which
is how the tests find them in the URL map.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import abort, request

from portal import tokens
from portal.core.people.access import LinkRefused

SAFE = ("GET", "HEAD")


@dataclass(frozen=True)
class Link:
    """A genuine token from a mail: its text (for the page's button) and what it says."""

    token: str
    payload: object
    expired: bool = False


def mailed_link(
    purpose: str,
    *,
    refused: Callable[[str], object],
    show: Callable[..., object] | None = None,
    expired_ok: bool = False,
):
    """Decorate the *action* of a mailed link's route, which runs on POST only.

    ``show(link, **values)`` answers GET and HEAD (a page whose button POSTs back); without
    it the route is POST only. ``refused(reason)`` renders a token that cannot be used:
    "invalid" (tampered, truncated, another purpose), "expired" (unless ``expired_ok``, when
    the view gets the expired link and decides), or a ``LinkRefused`` reason from the core
    ("used", "unknown").
    """

    def decorate(act):
        @wraps(act)
        def view(token: str, **values):
            try:
                link = Link(token, tokens.read(purpose, token))
            except tokens.ExpiredToken as expired:
                if not expired_ok:
                    return refused("expired")
                link = Link(token, expired.payload, expired=True)
            except tokens.InvalidToken:
                return refused("invalid")
            if request.method == "POST":
                handler = act
            elif request.method in SAFE and show is not None:
                handler = show
            else:  # the router answers 405 first; this keeps any other method from acting
                abort(405)
            try:
                return handler(link, **values)
            except LinkRefused as refusal:
                return refused(refusal.reason)

        view.mailed_link = purpose
        return view

    return decorate
