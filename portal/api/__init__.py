"""The JSON API for integrating systems, under /api/v1 (see openapi.py for the contract)."""

import math
import time

from flask import Blueprint, Flask, current_app, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from portal.api import limits, problems
from portal.core.kernel import transaction
from portal.core.kernel.errors import Forbidden, InvalidInput, NotFound, Refused
from portal.extensions import RATE_SHOWN, csrf

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")

from portal.api import contract  # noqa: E402 - it reads nothing of this module

# Once, at import: the extensions are module-level and would stack one per create_app().
csrf.exempt(blueprint)
# Clients' rate limits: first, so a refused request takes no database connection.
blueprint.before_request(limits.check)


@blueprint.before_request
def limit_body():
    # Flask 3.1: a per-request limit, so large bodies are refused with 413 before being read.
    # A chunked body has no length to check first: its stream is capped one byte past the
    # limit, and ``io.raw_body`` answers 413 when that byte arrives (werkzeug would stop at
    # the limit and hand over a truncated body, which then read as broken JSON: a 400).
    limit = current_app.config["API_MAX_BODY"]
    request.max_content_length = limit if request.content_length is not None else limit + 1


@blueprint.before_request
def read_only():
    """Operations declared ``reads_only`` (``contract.Operation``; some are POSTs, whose body
    carries addresses that stay out of URLs and logs) run without BEGIN/ROLLBACK
    (``transaction.reads_only``); so do the API's other GETs (its documents), which read
    nothing."""
    declared = contract.of(current_app.view_functions.get(request.endpoint))
    if declared.reads_only if declared is not None else request.method in ("GET", "HEAD"):
        request.environ[_READS_ONLY] = transaction.reads_only()


_READS_ONLY = "portal.api.reads_only"


@blueprint.teardown_request
def end_reads(_error):
    """The autocommit connection goes back with the request, not with the app context: code
    after the request in the same context (a test, a command) gets a transaction again. No
    round trip: a rollback on an autocommit connection sends nothing."""
    if request.environ.pop(_READS_ONLY, False):
        transaction.end_reads()


@blueprint.after_request
def no_store(response):
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@blueprint.after_request
def rate_limit_headers(response):
    """The client's quota on every answer, in the names of the IETF draft
    (draft-ietf-httpapi-ratelimit-headers-07): RateLimit-Limit, -Remaining, -Reset (seconds
    until the window ends) and -Policy (quota;w=window seconds). Read from what the limiter's
    hit learnt (``limits.check``, ``extensions.KnownWindow``): no storage round trip of their
    own.
    """
    shown = request.environ.get(RATE_SHOWN)
    if shown is not None:
        item, window = shown
        headers = response.headers
        headers["RateLimit-Limit"] = str(item.amount)
        headers["RateLimit-Remaining"] = str(window.remaining)
        headers["RateLimit-Reset"] = str(max(0, math.ceil(window.reset_time - time.time())))
        headers["RateLimit-Policy"] = f"{item.amount};w={item.get_expiry()}"
    return response


@blueprint.errorhandler(problems.Problem)
def problem(error):
    return problems.from_problem(error)


@blueprint.errorhandler(InvalidInput)
def invalid(error):
    return problems.response(
        422,
        str(error.message),
        "invalid-body",
        errors=[{"field": error.field, "message": str(error.message)}],
    )


@blueprint.errorhandler(NotFound)
def not_found(error):
    return problems.response(404, "Nothing with this identifier is open to this client.")


@blueprint.errorhandler(Forbidden)
def forbidden(error):
    return problems.response(403, str(error) or "Not open to this client.")


@blueprint.errorhandler(Refused)
def refused(error):
    return problems.response(409, str(error.message), error.reason)


class _Unsaved(SecureCookieSession):
    """The session of an API request: empty, and never written to a cookie."""


class PageSessions(SecureCookieSessionInterface):
    """The signed session cookie, for pages only. An API request is authenticated by its bearer
    key, never by a cookie: it gets an empty session that is not read from a cookie, signed or
    set as one (what a request writes into it, a ``?lang=`` choice, is forgotten with it)."""

    def open_session(self, app, request):
        if problems.wants_problem(request.path):
            return _Unsaved()
        return super().open_session(app, request)

    def save_session(self, app, session, response) -> None:
        if not isinstance(session, _Unsaved):
            super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    app.session_interface = PageSessions()
    from portal.api import (  # noqa: F401 - routes
        bulk,
        catalogue,
        consent,
        docs,
        erasures,
        feed,
        oauth,
        subjects,
        webhooks,
    )

    oauth.init_app(app)
    app.register_blueprint(blueprint)
