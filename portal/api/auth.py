"""Bearer keys, scopes and per-client rate limits."""

from functools import wraps

from flask import current_app, g, request

from portal.api.problems import Problem
from portal.core import clients
from portal.extensions import client_address

_UNSET = object()


def current_client():
    """The client of this request's ``Authorization: Bearer`` key, or None (cached in g)."""
    client = getattr(g, "api_client", _UNSET)
    if client is _UNSET:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        client = clients.authenticate(key.strip()) if scheme.lower() == "bearer" else None
        g.api_client = client
    return client


def rate_key() -> str:
    """Limits count per client; requests without a valid key count per address."""
    client = current_client()
    return f"api-client:{client.id}" if client else f"api-anonymous:{client_address()}"


def rate_limit() -> str:
    return current_app.config["RATELIMIT_API"]


def requires(scope: str):
    """The view needs a valid key with ``scope``: 401 without one, 403 without the scope."""

    def decorator(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            client = current_client()
            if client is None:
                raise Problem(401, "Send a valid API key as 'Authorization: Bearer <key>'.")
            if scope not in client.scopes:
                raise Problem(403, f"This key lacks the scope '{scope}'.", "missing-scope")
            return view(client, *args, **kwargs)

        guarded.required_scope = scope
        return guarded

    return decorator
