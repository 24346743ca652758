"""Rate limits shared by every form that sends mail to an address someone typed in.

Sign-up and magic-link requests share the same scopes, so together they send at most
RATELIMIT_SIGNUP_ADDRESS mails to one address: no inbox bombing through either form.
"""

from flask import current_app, g, request

from portal.core.kernel.errors import InvalidInput
from portal.core.people.subjects import address_hash, normalise_email

IP_SCOPE, ADDRESS_SCOPE = "signup-ip", "signup-address"


def address_key() -> str:
    """Rate-limit key for the address in the form: its keyed hash, so no address is stored."""
    raw = request.form.get("email", "")
    try:
        address = normalise_email(raw)
    except InvalidInput:
        address = raw.strip().lower()[:300]
    group = getattr(g, "group", None)
    return "signup-address:" + address_hash(group.id if group else 0, address)


def ip_limit() -> str:
    return current_app.config["RATELIMIT_SIGNUP_IP"]


def address_limit() -> str:
    return current_app.config["RATELIMIT_SIGNUP_ADDRESS"]


def post_only() -> bool:
    return request.method != "POST"
