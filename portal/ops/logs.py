"""Structured logs: JSON lines, one per request, with no personal data.

A request line names the route rule (``/<group>/confirm/<token>``), never the path, so
tokens and addresses in URLs never reach the logs.
"""

import itertools
import logging
import os
import re
import secrets
import sys
import time

from flask import Flask, g, request
from pythonjsonlogger.json import JsonFormatter

log = logging.getLogger("portal.request")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_ACCESS_LINE = re.compile(r"^\S+ - - \[[^\]]*\] \"")


class _NoAccessLines(logging.Filter):
    """Drop the development server's own access lines, which print raw paths with tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _ACCESS_LINE.match(record.getMessage())


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    root = logging.getLogger()
    if not any(getattr(h, "_portal", False) for h in root.handlers):
        handler._portal = True
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("werkzeug").addFilter(_NoAccessLines())


# A request id of our own: this process's random prefix and a count, unique across processes
# and restarts like a uuid4, without asking the system for random bytes on every request.
_ids = [secrets.token_hex(8), itertools.count(1)]


def _renew() -> None:
    _ids[:] = [secrets.token_hex(8), itertools.count(1)]


os.register_at_fork(after_in_child=_renew)  # a forked worker never repeats its parent's ids


def _new_request_id() -> str:
    prefix, count = _ids
    return f"{prefix}{next(count):016x}"


def init_app(app: Flask) -> None:
    if app.config["LOG_JSON"]:
        configure(app.config["LOG_LEVEL"])
    else:
        logging.getLogger("werkzeug").addFilter(_NoAccessLines())

    @app.before_request
    def start():
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.match(given) else _new_request_id()
        g.started = time.perf_counter()

    @app.after_request
    def finish(response):
        duration = time.perf_counter() - getattr(g, "started", time.perf_counter())
        g.duration = duration
        response.headers["X-Request-ID"] = getattr(g, "request_id", "")
        if not log.isEnabledFor(logging.INFO):
            return response  # LOG_LEVEL above INFO: no line to build
        log.info(
            "request",
            extra={
                "request_id": getattr(g, "request_id", None),
                "method": request.method,
                "route": request.url_rule.rule if request.url_rule else "unmatched",
                "status": response.status_code,
                "duration_ms": round(duration * 1000, 2),
            },
        )
        return response
