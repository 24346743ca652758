"""Error pages in the brand-neutral layout: never a bare 500 for something a person did."""

import logging

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from portal.api import problems as api_problems
from portal.extensions import retry_after

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        message = _(
            "This form has expired or was sent from elsewhere. "
            "Go back, reload the page and try again."
        )
        return render_template(
            "error.html", code=400, title=_("Please try again"), message=message
        ), 400

    @app.errorhandler(429)
    def too_many(error):
        if api_problems.wants_problem(request.path):
            return api_problems.from_http_error(error, retry_after())
        message = _(
            "You have made too many requests in a short time. Please wait a while and try again."
        )
        response = render_template(
            "error.html", code=429, title=_("Too many requests"), message=message
        )
        return response, 429, retry_after()

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if api_problems.wants_problem(request.path):
            return api_problems.from_http_error(error)
        titles = {
            400: _("This request could not be understood"),
            403: _("You may not use this page"),
            404: _("Page not found"),
            405: _("This page cannot be used that way"),
            413: _("What you sent is too large"),
        }
        messages = {
            403: _("Your role does not allow this. Ask an owner of your group if you need it."),
            404: _(
                "There is nothing at this address. Check the link, or start from the home page."
            ),
        }
        code = error.code or 500
        return render_template(
            _error_template(),
            code=code,
            title=titles.get(code, error.name),
            message=messages.get(code, error.description if code < 500 else ""),
        ), code

    @app.errorhandler(OperationalError)
    def busy(error: OperationalError):
        if not database_busy(error):
            return unexpected(error)
        log.warning("database busy: %s", type(error.orig).__name__)
        wait = {"Retry-After": "5"}
        if api_problems.wants_problem(request.path):
            return api_problems.response(
                503, "Nothing was changed. Please try again.", "busy", headers=wait
            )
        message = _(
            "Many people are using this page right now. "
            "Nothing was changed: please try again in a moment."
        )
        return (
            render_template("error.html", code=503, title=_("Please try again"), message=message),
            503,
            wait,
        )

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error")
        if api_problems.wants_problem(request.path):
            return api_problems.response(500, "Nothing was changed. Please try again.")
        return render_template(
            "error.html",
            code=500,
            title=_("Something went wrong on our side"),
            message=_("Nothing was changed. Please try again in a moment."),
        ), 500


def _error_template() -> str:
    """A console page that fails keeps the console around it (navigation, language switch)
    when an admin is signed in; every other error page has the plain layout."""
    if request.path.startswith("/admin/"):
        from portal.admin import error_page_admin

        try:
            if error_page_admin() is not None:
                return "admin/error.html"
        except OperationalError:
            return "error.html"
    return "error.html"


# lock_timeout, statement_timeout, deadlock, serialization failure: the work may succeed
# if tried again. SQLite says "database is locked" when its busy timeout runs out.
BUSY_STATES = {"55P03", "57014", "40P01", "40001"}


def database_busy(error: OperationalError) -> bool:
    if getattr(error.orig, "sqlstate", None) in BUSY_STATES:
        return True
    return "database is locked" in str(error.orig)
