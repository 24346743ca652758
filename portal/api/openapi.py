"""The OpenAPI 3.1 document of /api/v1, assembled from the operations the views declare
(``contract.operation``) and the schemas that validate their bodies (``schemas``)."""

from werkzeug.routing import IntegerConverter

from portal.api import contract, problems
from portal.api.schemas import published, ref
from portal.core.integrations.models.api import SCOPES
from portal.core.integrations.webhooks import HEADER, REPLAY_WINDOW
from portal.core.kernel.models.base import MAX_ID

ERRORS = {
    400: "The body is not JSON, or a header or query parameter is malformed.",
    401: "No valid API key or access token.",
    403: "The key lacks the scope, the brand is not open to this client, or the client has "
    "no accepted processing terms and so receives no personal data (terms-required).",
    404: "Nothing with this identifier is open to this client.",
    409: "Idempotency-Key reused with another body, the address is suppressed, or the "
    "external id is the client's id for another person.",
    413: "The body is larger than the API accepts.",
    410: "The cursor points before events that retention has deleted since "
    "(cursor-expired): start again with since and reconcile what was missed.",
    415: "The body is not application/json.",
    422: "The request does not match the documented schema or refers to unknown things.",
    429: "Too many requests for this client: wait for Retry-After seconds.",
}
BODY_ERRORS = (400, 413, 415, 422)
PREFIX = "/api/v1"
UNDECLARED = ("api.openapi_json", "api.docs")  # the contract itself
IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Same key and body: the first answer again, with no second effect. "
    "Same key, another body: 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[\\x21-\\x7e]+$"},
}
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "The ETag of the copy the client holds: 304 without a body if unchanged.",
    "schema": {"type": "string"},
}
CONDITIONAL_HEADERS = {
    "ETag": {
        "description": "Strong ETag: a hash of the document's bytes.",
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "`private, no-cache`: keep it, but revalidate with If-None-Match.",
        "schema": {"type": "string"},
    },
}
RATE_LIMIT_HEADERS = {
    name: {"description": description, "schema": {"type": "string"}}
    for name, description in (
        ("RateLimit-Limit", "Requests this client may make in the current window."),
        ("RateLimit-Remaining", "Requests left in the current window."),
        ("RateLimit-Reset", "Seconds until the window ends and the quota is whole again."),
        ("RateLimit-Policy", "The quota and its window in seconds, as `600;w=60`."),
    )
}
SIGNATURES = (
    f"Each delivery is a POST of one Event as JSON with the header `{HEADER}: t=<unix seconds>,"
    "v1=<hex>`, where v1 is HMAC-SHA-256 with the endpoint's secret over the bytes "
    "`<t>.<body>`. Receivers recompute it, compare in constant time and reject a t more than "
    f"{REPLAY_WINDOW} seconds from their clock, so a captured delivery cannot be replayed. "
    "After a secret rotation, until previous_secret_until, the header carries a second v1 "
    "made with the previous secret (last): accept a delivery when any v1 matches. "
    "Deliveries about one person to one endpoint arrive in the order of their events. "
    "Deliveries are retried with back-off until a 2xx answer; handle them idempotently by "
    "the event id (header Portal-Event-Id)."
)


def _json(schema_name: str, description: str, example=None) -> dict:
    media = {"schema": ref(schema_name)}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {"application/json": media}}


def _problem(code: int) -> dict:
    example = problems.document(code, ERRORS[code])
    return {
        "description": ERRORS[code],
        "content": {"application/problem+json": {"schema": ref("Problem"), "example": example}},
        "headers": RATE_LIMIT_HEADERS,
    }


def _path_parameters(rule, declared: dict) -> list[dict]:
    """The rule's variables: integer ids as the database stores them, strings as declared."""
    parameters = []
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        else:
            schema = declared.get(name, {"type": "string"})
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _codes(op: contract.Operation, rule) -> set[int]:
    codes = set(op.errors)
    if op.scope != contract.PUBLIC:
        codes |= {401, 403, 429}
    if op.body:
        codes |= set(BODY_ERRORS)
    if op.write:
        codes |= {400, 409}
    if any(isinstance(c, IntegerConverter) for c in rule._converters.values()):
        codes.add(404)
    return codes


def operation_object(op: contract.Operation, rule) -> dict:
    """The OpenAPI operation object of one declared view."""
    params = [*_path_parameters(rule, op.path_params), *op.params]
    headers = dict(op.headers)
    ok = _json(op.ok, "Success", op.example)
    responses = {str(op.status): ok}
    if op.conditional:
        params.append(IF_NONE_MATCH)
        headers.update(CONDITIONAL_HEADERS)
        responses["304"] = {
            "description": "Not modified: the If-None-Match named this document's ETag.",
            "headers": {**CONDITIONAL_HEADERS, **RATE_LIMIT_HEADERS},
        }
    ok["headers"] = {**headers, **RATE_LIMIT_HEADERS}
    if op.links:
        ok["links"] = {
            name: {"operationId": target, "parameters": parameters}
            for name, (target, parameters) in op.links.items()
        }
    for status, description in op.also.items():
        responses[str(status)] = {**_json(op.ok, description), "headers": RATE_LIMIT_HEADERS}
    for code in sorted(_codes(op, rule)):
        responses[str(code)] = _problem(code)
    responses.update({str(status): answer for status, answer in op.responses.items()})
    if op.scope == contract.ANY_KEY:
        description = "Any valid key."
    elif op.scope == contract.PUBLIC:
        description = ""
    else:
        description = f"Requires the scope `{op.scope}`."
    operation = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "security": [{"bearer": []}],
        "x-scope": op.scope,
        "description": description,
        "parameters": params + ([IDEMPOTENCY] if op.write else []),
        "responses": responses,
    }
    if op.body:
        media = {"schema": ref(op.body)}
        if op.body_example is not None:
            media["example"] = op.body_example
        operation["requestBody"] = {"required": True, "content": {"application/json": media}}
    operation.update(op.openapi)
    return operation


def paths(app) -> dict:
    """Every declared operation of the API blueprint, by path and method. A route of the
    blueprint without a declaration (other than the contract's own pages) is a mistake."""
    found: dict[str, dict] = {}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or rule.endpoint in UNDECLARED:
            continue
        op = contract.of(app.view_functions[rule.endpoint])
        if op is None:
            raise LookupError(f"{rule.endpoint} is routed but declares no operation")
        path = rule.rule.removeprefix(PREFIX)
        for name in rule.arguments:
            path = path.replace(f"<int:{name}>", f"{{{name}}}").replace(f"<{name}>", f"{{{name}}}")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.setdefault(path, {})[method.lower()] = operation_object(op, rule)
    return dict(sorted(found.items()))


def oauth_error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": ref("OAuthError")}},
    }


def document(app, server_url: str) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Consent portal API",
            "version": "1.0.0",
            "description": "Consent lookups, audience checks, captured consent, a change feed "
            "and signed webhooks for the systems of one site group. Errors are RFC 9457 "
            "problem details (application/problem+json). Every answer carries the client's "
            "quota as RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset (seconds) and "
            "RateLimit-Policy (draft-ietf-httpapi-ratelimit-headers-07).\n\n" + SIGNATURES,
        },
        "servers": [{"url": server_url}],
        "paths": paths(app),
        "webhooks": {
            "event": {
                "post": {
                    "summary": "A consent.changed, subject.erased or profile.updated event, "
                    "or an erasure.requested event addressed to this client alone",
                    "description": SIGNATURES,
                    "parameters": [
                        {
                            "name": HEADER,
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "requestBody": {"content": {"application/json": {"schema": ref("Event")}}},
                    "responses": {"200": {"description": "Any 2xx: delivered"}},
                }
            }
        },
        "components": {
            "schemas": published(app.config["WEBHOOKS_ALLOW_INSECURE"]),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API client key (`flask api-clients create`), or an "
                    "access token from `POST /oauth/token`.",
                },
                "basic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "The token endpoint: the client's id and one of its keys.",
                },
                "oauth2": {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": server_url.rstrip("/") + "/oauth/token",
                            "scopes": {scope: scope for scope in SCOPES},
                        }
                    },
                },
            },
        },
    }
