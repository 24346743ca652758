"""The OpenAPI 3.1 document of /api/v1: every endpoint, schema and error."""

from portal.api.schemas import SCHEMAS, ref
from portal.core.integrations.webhooks import HEADER, REPLAY_WINDOW

ERRORS = {
    400: "The body is not JSON, or a header is malformed.",
    401: "No valid API key.",
    403: "The key lacks the scope, the brand is not open to this client, or the client has "
    "no accepted processing terms and so receives no personal data (terms-required).",
    404: "Nothing with this identifier is open to this client.",
    409: "Idempotency-Key reused with another body, or the address is suppressed.",
    413: "The body is larger than the API accepts.",
    415: "The body is not application/json.",
    422: "The request does not match the documented schema or refers to unknown things.",
    429: "Too many requests for this client: wait for Retry-After seconds.",
}
BODY_ERRORS = (400, 413, 415, 422)
IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Same key and body: the first answer again, with no second effect. "
    "Same key, another body: 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[\\x21-\\x7e]+$"},
}
SIGNATURES = (
    f"Each delivery is a POST of one Event as JSON with the header `{HEADER}: t=<unix seconds>,"
    "v1=<hex>`, where v1 is HMAC-SHA-256 with the endpoint's secret over the bytes "
    "`<t>.<body>`. Receivers recompute it, compare in constant time and reject a t more than "
    f"{REPLAY_WINDOW} seconds from their clock, so a captured delivery cannot be replayed. "
    "Deliveries are retried with back-off until a 2xx answer; handle them idempotently by "
    "the event id (header Portal-Event-Id)."
)


def _json(schema_name: str, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": ref(schema_name)}},
    }


def _operation(summary, scope, ok, *, body=None, params=(), errors=(), write=False, status=200):
    codes = {401, 403, 429, *errors} | (set(BODY_ERRORS) if body else set())
    if write:
        codes |= {400, 409}
    responses = {str(status): _json(ok, "Success")}
    if ok == "RecordResponse":
        responses["202"] = _json(ok, "An email grant waiting for the person's confirmation")
    for code in sorted(codes):
        responses[str(code)] = {
            "description": ERRORS[code],
            "content": {"application/problem+json": {"schema": ref("Problem")}},
        }
    operation = {
        "summary": summary,
        "security": [{"bearer": []}],
        "x-scope": scope,
        "description": "Any valid key." if scope == "any" else f"Requires the scope `{scope}`.",
        "parameters": list(params) + ([IDEMPOTENCY] if write else []),
        "responses": responses,
    }
    if body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref(body)}},
        }
    return operation


def _id(name):
    schema = {"type": "integer", "minimum": 1, "maximum": 2147483647}
    return {"name": name, "in": "path", "required": True, "schema": schema}


PATHS = {
    "/consents/lookup": {
        "post": _operation(
            "The consents of one subject, found by address",
            "consent:read",
            "SubjectConsents",
            body="LookupRequest",
        )
    },
    "/subjects/{subject_id}/consents": {
        "get": _operation(
            "The consents of one subject, by id",
            "consent:read",
            "SubjectConsents",
            params=[_id("subject_id")],
            errors=(404,),
        )
    },
    "/consents/check": {
        "post": _operation(
            "May we contact each of these addresses about a topic on a channel?",
            "consent:read",
            "CheckResponse",
            body="CheckRequest",
        )
    },
    "/consents": {
        "post": _operation(
            "Record a grant or withdrawal captured elsewhere",
            "consent:write",
            "RecordResponse",
            body="RecordRequest",
            write=True,
        )
    },
    "/subjects/erasures": {
        "post": _operation(
            "Erase one person (asked by phone or letter): the same erasure as self-service; "
            "'unknown' and 'suppressed' are answers",
            "subjects:erase",
            "ErasureResponse",
            body="ErasureRequest",
            write=True,
            errors=(404,),
        )
    },
    "/subjects/relationship": {
        "post": _operation(
            "Say what a person is to the group (customer, former customer, prospect); "
            "retention rules read it",
            "consent:write",
            "RelationshipResponse",
            body="RelationshipRequest",
            write=True,
            errors=(404,),
        )
    },
    "/erasures/{request_id}/acknowledgement": {
        "post": _operation(
            "Answer an erasure request you were sent (event erasure.requested): 'done' or "
            "'not_held', with your own reference; the same answer again is the same answer, "
            "another one is 409",
            "any",
            "ErasureRequestState",
            body="Acknowledgement",
            params=[
                {
                    "name": "request_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "maxLength": 36},
                }
            ],
            write=True,
            errors=(404,),
        )
    },
    "/events": {
        "get": _operation(
            "Consent events after a cursor, oldest first",
            "events:read",
            "FeedPage",
            params=[
                {
                    "name": "after",
                    "in": "query",
                    "required": False,
                    "description": "next_cursor of the previous page (or an event id); none: start",
                    "schema": {"type": "string", "maxLength": 100},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100},
                },
            ],
            errors=(422,),
        )
    },
    "/webhooks": {
        "get": _operation("This client's webhook endpoints", "events:read", "WebhookList"),
        "post": _operation(
            "Register an HTTPS endpoint; the answer holds its signing secret, shown once",
            "events:read",
            "WebhookCreated",
            body="WebhookRequest",
            write=True,
            status=201,
        ),
    },
    "/webhooks/{endpoint_id}": {
        "delete": _operation(
            "Stop deliveries to an endpoint",
            "events:read",
            "Removed",
            params=[_id("endpoint_id")],
            errors=(404,),
            write=True,
        )
    },
    "/webhooks/{endpoint_id}/deliveries": {
        "get": _operation(
            "The latest deliveries to an endpoint: status, attempts, last error",
            "events:read",
            "DeliveryList",
            params=[_id("endpoint_id")],
            errors=(404,),
        )
    },
}


def document(server_url: str) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Consent portal API",
            "version": "1.0.0",
            "description": "Consent lookups, audience checks, captured consent, a change feed "
            "and signed webhooks for the systems of one site group. Errors are RFC 9457 "
            "problem details (application/problem+json).\n\n" + SIGNATURES,
        },
        "servers": [{"url": server_url}],
        "paths": PATHS,
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
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API client key: `flask api-clients create`.",
                }
            },
        },
    }
