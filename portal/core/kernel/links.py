"""Links in mails: the core says what a link is for, the web layer says where it leads.

Mails are composed inside core operations (from the API, the CLI or a worker) and the core
names no web route. At start-up the web layer registers the one function that turns a purpose
and its values (group slug, token) into an absolute URL: ``portal.links.init_app``.
"""

from collections.abc import Callable

from flask import Flask, current_app

# What a mailed link is for.
MANAGE = "manage"  # every mail's footer: the centre, subscription changes only
CONFIRM_SIGNUP = "confirm-signup"  # double opt-in
SIGNUP_HOME = "signup-home"  # the group's sign-up page
SIGN_IN = "sign-in"  # a magic link into the centre
UNSUBSCRIBE = "unsubscribe"  # one click (RFC 8058)
CONFIRM_EMAIL = "confirm-email"  # a new address confirms itself
ERASE = "erase"  # confirms "Withdraw and erase my data"
STILL_RIGHT = "still-right"  # a freshness reminder's "Yes, still right"
UPDATE_DETAILS = "update-details"  # a freshness reminder's "Update"
KEEP = "keep"  # a re-permission mail's "Keep my subscriptions"
ADMIN_INVITE = "admin-invite"  # an invitation to the console
ADMIN_RESET = "admin-reset"  # a console password reset
ERASURE_STATUS = "erasure-status"  # the farewell mail's link to where recipients' answers stand
PURPOSES = (
    MANAGE,
    CONFIRM_SIGNUP,
    SIGNUP_HOME,
    SIGN_IN,
    UNSUBSCRIBE,
    CONFIRM_EMAIL,
    ERASE,
    STILL_RIGHT,
    UPDATE_DETAILS,
    KEEP,
    ADMIN_INVITE,
    ADMIN_RESET,
    ERASURE_STATUS,
)


def register(app: Flask, build: Callable[..., str]) -> None:
    """Called once by the web layer: ``build(purpose, **values)`` returns an absolute URL."""
    app.extensions["portal.links"] = build


def link(purpose: str, **values) -> str:
    """The absolute URL of the page that serves ``purpose``, for a mail."""
    return current_app.extensions["portal.links"](purpose, **values)
