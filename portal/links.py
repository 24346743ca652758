"""Absolute links for mails, built from PORTAL_BASE_URL rather than from a request.

The core asks for links by purpose (``portal.core.kernel.links``); this module, which knows
the routes, answers. Mails are composed inside core operations, which may run from the API, the
CLI or a worker, where there is no request to take a host name from.
"""

from urllib.parse import urlsplit

from flask import Flask, current_app

from portal.core.kernel import links

# The page behind each purpose.
PAGES = {
    links.MANAGE: "preferences.manage",
    links.CONFIRM_SIGNUP: "signup.confirm",
    links.SIGNUP_HOME: "signup.home",
    links.SIGN_IN: "preferences.open_link",
    links.UNSUBSCRIBE: "unsubscribe.one_click",
    links.CONFIRM_EMAIL: "selfservice.confirm_email",
    links.ERASE: "selfservice.erase_link",
    links.STILL_RIGHT: "lifecycle.still_right",
    links.UPDATE_DETAILS: "lifecycle.update",
    links.KEEP: "lifecycle.keep",
    links.ADMIN_INVITE: "admin.accept_invite",
    links.ADMIN_RESET: "admin.reset_password",
    links.ERASURE_STATUS: "selfservice.erasure_status",
}


def external_url(purpose: str, **values) -> str:
    base = urlsplit(current_app.config["PORTAL_BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(PAGES[purpose], values, force_external=True)


def init_app(app: Flask) -> None:
    links.register(app, external_url)
