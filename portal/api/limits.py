"""API clients' rate limits (RATELIMIT_API), counted without Flask-Limiter's per-request
machinery.

Flask-Limiter resolves every limit of every request again (defaults, blueprint limits,
exemptions, scopes, meta limits): for the API's one limit that cost more than the lookup's own
query. This hook asks the same strategy (``extensions.KnownWindow``, a client's hits taken in
leases from the shared storage) for the same windows, with what can be worked out once kept:
the parsed limits per configured text. What a client sees is unchanged:

- each limit of RATELIMIT_API counts per client and endpoint (per address without a valid key),
  in the limiter's storage, so it holds across every process and instance sharing it;
- beyond it, 429 problem details with ``Retry-After`` (``portal.errors``), and every answer
  carries RateLimit headers (``portal.api.rate_limit_headers``);
- RATELIMIT_ENABLED false, or a request that matched no route, counts nothing.

Sign-up, sign-in and console limits stay with Flask-Limiter (``PortalLimiter`` leaves API
requests to this hook).
"""

from flask import current_app, request
from limits import RateLimitItem, parse_many
from werkzeug.exceptions import TooManyRequests

from portal.api import auth
from portal.extensions import RATE_SHOWN, limiter, window_of

_parsed: dict[str, list[RateLimitItem]] = {}


def _items() -> list[RateLimitItem]:
    """The limits of RATELIMIT_API, shortest window first (the one the headers show, as
    Flask-Limiter chose); parsed once per configured text."""
    text = current_app.config["RATELIMIT_API"]
    items = _parsed.get(text)
    if items is None:
        items = _parsed[text] = sorted(parse_many(text))
    return items


def check() -> None:
    """Count this request against its client's limits; 429 once one is used up."""
    endpoint = request.endpoint
    if not endpoint or not limiter.enabled or not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    identifiers = (auth.rate_key(), endpoint)
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX")
    if prefix:
        identifiers = (prefix, *identifiers)
    strategy = limiter.limiter
    shown = None
    for item in _items():
        allowed = strategy.hit(item, *identifiers)
        if shown is None or not allowed:
            shown = (item, window_of(strategy, item, identifiers))
        if not allowed:
            request.environ[RATE_SHOWN] = shown
            raise TooManyRequests(str(item))
    request.environ[RATE_SHOWN] = shown
