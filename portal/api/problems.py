"""RFC 9457 problem details: every error under /api is ``application/problem+json``."""

from flask import current_app, jsonify
from werkzeug.exceptions import HTTPException

TYPE_BASE = "https://consent-portal.example/problems/"
TITLES = {
    400: "Bad request",
    401: "Unauthorised",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class Problem(Exception):
    """Raised in a view to answer with a problem document."""

    def __init__(self, status: int, detail: str, kind: str | None = None, **extra):
        super().__init__(detail)
        self.status, self.detail, self.kind, self.extra = status, detail, kind, extra


def document(status: int, detail: str, kind: str | None = None, **extra) -> dict:
    """The problem details object itself (also each refused change of a bulk request)."""
    return {
        "type": TYPE_BASE + (kind or str(status)),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": str(detail),
        **extra,
    }


def response(status: int, detail: str, kind: str | None = None, headers=None, **extra):
    answer = jsonify(document(status, detail, kind, **extra))
    answer.status_code = status
    answer.mimetype = "application/problem+json"
    for name, value in (headers or {}).items():
        answer.headers[name] = value
    return answer


def from_http_error(error: HTTPException, headers: dict[str, str] | None = None):
    """Werkzeug's errors (404, 405, 413, 429 ...) as problem documents, with ``headers``."""
    status = error.code or 500
    headers = dict(headers or {})
    if status == 405 and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="consent-api"'
    detail = error.description if status < 500 else "The request could not be completed."
    if status == 413:
        detail = f"The body may be at most {current_app.config['API_MAX_BODY']} bytes."
    return response(status, detail, headers=headers)


def from_problem(problem: Problem):
    headers = {"WWW-Authenticate": 'Bearer realm="consent-api"'} if problem.status == 401 else {}
    return response(problem.status, problem.detail, problem.kind, headers=headers, **problem.extra)


def wants_problem(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")
