"""The OpenAPI 3.1 document of /api/v1: every endpoint, schema and error."""

from portal.api.schemas import EXTERNAL_ID_PATTERN, SCHEMAS, ref
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
RECEIPT = "9c1e0f3b7a2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"
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
    "schema": {"type": "string", "maxLength": 1000},
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
BRAND_FILTER = {
    "name": "brand",
    "in": "query",
    "required": False,
    "description": "Only this brand (its slug); none: every brand open to the client.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 40},
}
LANGUAGES_EXAMPLE = {"en": "Events", "fr": "Événements", "de": "Veranstaltungen"}
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


def _json(schema_name: str, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": ref(schema_name)}},
    }


def _operation(
    summary,
    scope,
    ok,
    *,
    body=None,
    params=(),
    errors=(),
    write=False,
    status=200,
    operation_id=None,
    example=None,
    conditional=False,
    headers=None,
):
    codes = {401, 403, 429, *errors} | (set(BODY_ERRORS) if body else set())
    if write:
        codes |= {400, 409}
    responses = {str(status): _json(ok, "Success")}
    if example is not None:
        responses[str(status)]["content"]["application/json"]["example"] = example
    if conditional:
        params = [*params, IF_NONE_MATCH]
        headers = {**(headers or {}), **CONDITIONAL_HEADERS}
        responses["304"] = {
            "description": "Not modified: the If-None-Match named this document's ETag.",
            "headers": {**CONDITIONAL_HEADERS, **RATE_LIMIT_HEADERS},
        }
    responses[str(status)]["headers"] = {**(headers or {}), **RATE_LIMIT_HEADERS}
    if ok == "RecordResponse":
        responses["202"] = _json(ok, "An email grant waiting for the person's confirmation")
    for code in sorted(codes):
        responses[str(code)] = {
            "description": ERRORS[code],
            "content": {"application/problem+json": {"schema": ref("Problem")}},
            "headers": RATE_LIMIT_HEADERS,
        }
    operation = {
        **({"operationId": operation_id} if operation_id else {}),
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
    schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
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
    "/subjects/{subject_id}/external-id": {
        "put": _operation(
            "Attach your own id for a subject (your CRM's); it comes back in your feed and "
            "webhook events about the person, to you alone, and finds them",
            "consent:write",
            "ExternalIdResponse",
            body="ExternalIdRequest",
            params=[_id("subject_id")],
            errors=(404, 409),
            operation_id="setExternalId",
        )
    },
    "/subjects/{subject_id}/profile": {
        "get": _operation(
            "Names, mobile number and postal address of one subject, each with its source "
            "and when it was last confirmed",
            "profile:read",
            "Profile",
            params=[_id("subject_id")],
            errors=(404,),
            operation_id="getProfile",
        ),
        "patch": _operation(
            "Set profile fields (a profile.updated event per changed field); answers the "
            "fields sent as now stored",
            "profile:write",
            "Profile",
            body="ProfileUpdate",
            params=[_id("subject_id")],
            errors=(404,),
            operation_id="updateProfile",
        ),
    },
    "/subjects/external/{external_id}/consents": {
        "get": _operation(
            "The consents of one subject, by the id you attached",
            "consent:read",
            "SubjectConsents",
            params=[
                {
                    "name": "external_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": EXTERNAL_ID_PATTERN},
                }
            ],
            errors=(404,),
            operation_id="lookupByExternalId",
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
            example={
                "subject_id": 42,
                "brand": "camille",
                "topic": "events",
                "channel": "sms",
                "state": "granted",
                "changed": True,
                "result": "applied",
                "receipt": "9c1e0f3b7a2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f",
            },
        )
    },
    "/consents/bulk": {
        "post": _operation(
            "Record up to 1,000 grants and withdrawals captured elsewhere, each decided, "
            "kept and answered on its own (applied, unchanged, stale or refused with its "
            "problem), each idempotent by its own key; one request against the rate limit",
            "consent:write",
            "BulkResponse",
            body="BulkRequest",
            operation_id="recordConsentsInBulk",
            example={
                "results": [
                    {
                        "key": "crm-7f3a-0001",
                        "subject_id": 42,
                        "brand": "camille",
                        "topic": "events",
                        "channel": "sms",
                        "state": "granted",
                        "changed": True,
                        "result": "applied",
                        "receipt": RECEIPT,
                    },
                    {
                        "key": "crm-7f3a-0002",
                        "result": "refused",
                        "problem": {
                            "type": "https://consent-portal.example/problems/invalid-body",
                            "title": "Unprocessable content",
                            "status": 422,
                            "detail": "Camille has no topic “gifts”.",
                            "errors": [
                                {"field": "topic", "message": "Camille has no topic “gifts”."}
                            ],
                        },
                    },
                ],
                "counts": {"applied": 1, "unchanged": 0, "stale": 0, "refused": 1},
            },
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
                    "name": "since",
                    "in": "query",
                    "required": False,
                    "description": "Start at the first event created at or after this time "
                    "(ISO 8601 with its offset; '+' written %2B). Not with after: 400.",
                    "schema": {"type": "string", "format": "date-time", "maxLength": 64},
                    "example": "2026-03-01T09:30:00Z",
                },
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100},
                },
            ],
            errors=(400, 410, 422),
            operation_id="listEvents",
            headers={
                "Link": {
                    "description": 'RFC 8288 `<...>; rel="next"`: the next page, while '
                    "has_more is true.",
                    "schema": {"type": "string"},
                }
            },
        )
    },
    "/brands": {
        "get": _operation(
            "The brands open to this client, with their latest consent-text version",
            "consent:read",
            "BrandList",
            operation_id="listBrands",
            conditional=True,
            example={
                "brands": [
                    {
                        "slug": "camille",
                        "name": "Maison Camille",
                        "policy_version": "2026-01",
                        "privacy_policy_url": "https://camille.example/privacy",
                        "latest_text_version": 2,
                        "archived": False,
                    }
                ]
            },
        )
    },
    "/topics": {
        "get": _operation(
            "The topics of the client's brands: keys, channels, names in each language",
            "consent:read",
            "TopicList",
            params=[BRAND_FILTER],
            errors=(404,),
            operation_id="listTopics",
            conditional=True,
            example={
                "topics": [
                    {
                        "brand": "camille",
                        "key": "events",
                        "names": LANGUAGES_EXAMPLE,
                        "descriptions": {"en": "", "fr": "", "de": ""},
                        "channels": ["email", "sms"],
                        "marketing": True,
                    }
                ]
            },
        )
    },
    "/consent-texts": {
        "get": _operation(
            "Every version of the client's brands' consent texts, with their languages: "
            "a grant's text_version is one of these",
            "consent:read",
            "ConsentTextList",
            params=[BRAND_FILTER],
            errors=(404,),
            operation_id="listConsentTexts",
            conditional=True,
            example={
                "consent_texts": [
                    {
                        "brand": "camille",
                        "version": 1,
                        "latest": True,
                        "languages": ["de", "en", "fr"],
                        "texts": {
                            "en": "I agree to hear from Maison Camille.",
                            "fr": "J'accepte d'être contacté par Maison Camille.",
                            "de": "Ich bin einverstanden, von Maison Camille zu hören.",
                        },
                        "created_at": "2026-01-05T09:00:00+00:00",
                    }
                ]
            },
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
    "/webhooks/{endpoint_id}/ping": {
        "post": _operation(
            "Queue a signed test event (webhook.ping) to this endpoint alone; it never shows "
            "in the feed",
            "events:read",
            "PingQueued",
            params=[_id("endpoint_id")],
            errors=(404,),
            write=True,
            status=202,
            operation_id="pingWebhook",
        )
    },
    "/webhooks/{endpoint_id}/secret": {
        "post": _operation(
            "A new signing secret, shown once; the previous one keeps signing beside it (a "
            "second v1) until previous_secret_until",
            "events:read",
            "WebhookSecret",
            params=[_id("endpoint_id")],
            errors=(404,),
            write=True,
            operation_id="rotateWebhookSecret",
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


def _oauth_error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": ref("OAuthError")}},
    }


PATHS["/oauth/token"] = {
    "post": {
        "operationId": "issueAccessToken",
        "summary": "A short-lived access token for an API client (OAuth 2.0 client credentials)",
        "description": "The client authenticates with its id and one of its valid keys as the "
        "secret, by HTTP Basic (client_secret_basic) or in the form (client_secret_post). The "
        "token carries the scopes asked for that the client holds (all of them when none are "
        "asked) and is sent as `Authorization: Bearer <token>` like a key. Errors are RFC 6749 "
        "section 5.2 JSON, as OAuth client libraries expect.",
        "security": [{"basic": []}, {}],
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": ref("TokenRequest")}},
        },
        "responses": {
            "200": {
                **_json("TokenResponse", "The token"),
                "headers": RATE_LIMIT_HEADERS,
            },
            "400": _oauth_error("A malformed request, another grant type or an unknown scope."),
            "401": _oauth_error("No such client, or not one of its valid keys (invalid_client)."),
            "413": {
                "description": ERRORS[413],
                "content": {"application/problem+json": {"schema": ref("Problem")}},
            },
            "429": {
                "description": ERRORS[429],
                "content": {"application/problem+json": {"schema": ref("Problem")}},
                "headers": RATE_LIMIT_HEADERS,
            },
        },
    }
}


def document(server_url: str) -> dict:
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
