"""Bearer keys and OAuth access tokens, scopes and per-client rate limits."""

from functools import wraps

from flask import request

from portal.api.problems import Problem
from portal.core.integrations import clients, recipients
from portal.extensions import LEASED, client_address

_UNSET = object()
_ENVIRON = "portal.api_client"
_SCOPES = "portal.api_scopes"


def current_client():
    """The client of this request's ``Authorization: Bearer`` key or access token, or None.

    Kept in the request's environ, not in ``g``: an app context (and its ``g``) may outlive
    one request, and a client must never be carried over to the next.
    """
    client = request.environ.get(_ENVIRON, _UNSET)
    if client is _UNSET:
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        credential, client, scopes = credential.strip(), None, []
        if scheme.lower() != "bearer" or not credential:
            pass
        elif credential.startswith(clients.KEY_PREFIX):
            client = clients.authenticate(credential)
            scopes = list(client.scopes) if client else []
        else:
            from portal.api import oauth

            client, scopes = oauth.access(credential) or (None, [])
        request.environ[_ENVIRON], request.environ[_SCOPES] = client, scopes
    return client


def current_scopes() -> list[str]:
    """The scopes of this request: the key's, or those an access token was issued with that
    the client still holds."""
    current_client()
    return request.environ[_SCOPES]


def rate_key() -> str:
    """Limits count per client, in leases (``extensions.LEASED``: no storage round trip on
    most requests); requests without a valid key count per address, one by one."""
    client = current_client()
    return f"{LEASED}{client.id}" if client else f"api-anonymous:{client_address()}"


def requires(scope: str | None, *, personal: bool = False):
    """The view needs a valid key with ``scope`` (None: any valid key): 401 without one, 403
    without the scope. ``personal``: the answer holds personal data, so the client must have
    accepted processing terms (403 ``terms-required`` otherwise, see ``recipients``)."""

    def decorator(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            client = current_client()
            if client is None:
                raise Problem(
                    401,
                    "Send a valid API key or access token as 'Authorization: Bearer <key>'.",
                )
            if scope is not None and scope not in current_scopes():
                raise Problem(403, f"This key lacks the scope '{scope}'.", "missing-scope")
            if personal and not recipients.is_recipient(client):
                raise Problem(403, recipients.RECEIVES_NOTHING, "terms-required")
            return view(client, *args, **kwargs)

        guarded.required_scope = scope
        guarded.personal = personal
        return guarded

    return decorator
