"""JSON Schemas of every body the API reads or writes.

The same dicts validate requests (``portal.api.io``) and appear in the OpenAPI document, so
the document cannot drift from what the API accepts.
"""

from portal.core.consent.bulk import MAX_CHANGES
from portal.core.integrations.lookup import BULK_LIMIT
from portal.core.integrations.models.event import ERASURE_REQUESTED, EVENT_TYPES
from portal.core.kernel.models.base import CHANNELS, MAX_ID
from portal.core.people.profile import COUNTRIES

PLAIN = "^[^\\u0000-\\u001f]*$"  # no control characters
# Some text, not only blanks, and no control characters (C0, DEL or C1).
_TEXT = "[^\\u0000-\\u001f\\u007f-\\u009f]"
FILLED = f"^{_TEXT}*[^\\s\\u0000-\\u001f\\u007f-\\u009f]{_TEXT}*$"
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TOP = "(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9-]{1,59})"
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = f"{_OCTET}(?:\\.{_OCTET}){{3}}"
_PORT = "(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"


def webhook_url(schemes: str) -> str:
    """What a webhook URL may be: https (http too where WEBHOOKS_ALLOW_INSECURE, in
    development), a host name (its last label letters, or an IDN's xn--) or an IPv4 address in
    dotted decimal, an optional port, path and query without spaces or control characters. The
    core still refuses an address or name of this machine or inside the network
    (core.integrations.destinations): that depends on the registries and DNS, not on shape."""
    return (
        f"^(?:{schemes})://(?:(?:{_LABEL}\\.)+{_TOP}|{_IPV4})(?::{_PORT})?"
        "(?:[/?][^\\s\\u0000-\\u001f#]*)?$"
    )


# A client's own id for a subject: it also goes in URLs, so URL-safe characters only.
EXTERNAL_ID_PATTERN = "^[A-Za-z0-9._~:@+-]{1,100}$"
EXTERNAL_ID = {
    "type": "string",
    "pattern": EXTERNAL_ID_PATTERN,
    "description": "the client's own id for the subject (its CRM's), unique within the client",
}
NAME = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": PLAIN}
# An address the portal can mail: at most 254 characters (RFC 5321's path limit, less its
# brackets), ASCII before the @ (see core.people.subjects.mailable). The format is checked by the
# core (422 naming the field), not by the schema validator.
EMAIL = {
    "type": "string",
    "format": "email",
    "minLength": 3,
    "maxLength": 254,
    "description": "An address.",
}
# An audience is answered address by address, "invalid" for one that is not an address.
ANY_ADDRESS = {"type": "string", "maxLength": 320, "description": "An address, or not one."}
CHANNEL = {"type": "string", "enum": list(CHANNELS)}
TIME = {"type": "string", "format": "date-time"}
CONSENT_STATE = ["pending", "granted", "withdrawn"]
IN_LANGUAGES = {
    "type": "object",
    "description": "language code -> text",
    "additionalProperties": {"type": "string"},
}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def one_of_person(schema: dict) -> dict:
    """The person named by exactly one of address and subject id."""
    return {
        **schema,
        "oneOf": [
            {"required": ["email"], "not": {"required": ["subject_id"]}},
            {"required": ["subject_id"], "not": {"required": ["email"]}},
        ],
        "description": "Exactly one of email and subject_id.",
    }


def grant_has_text(required: list[str], **properties) -> dict:
    """A captured change: a grant names the version of the consent text the person agreed to."""
    return {
        **strict(required, **properties),
        "if": {"properties": {"action": {"const": "grant"}}},
        "then": {"required": ["text_version"]},
    }


def strict(required: list[str], **properties) -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


SCHEMAS = {
    "LookupRequest": strict(["email"], email=EMAIL),
    "Acknowledgement": strict(
        ["answer"],
        answer={"type": "string", "enum": ["done", "not_held"]},
        reference={"type": "string", "minLength": 1, "maxLength": 200, "pattern": PLAIN},
    ),
    "ErasureRequestState": strict(
        [
            "id",
            "erasure_id",
            "subject_id",
            "requested_at",
            "attempts",
            "answered_at",
            "answer",
            "reference",
        ],
        id={"type": "string"},
        erasure_id={"type": "string"},
        subject_id={"type": "integer", "description": "the former subject id you held"},
        requested_at=TIME,
        attempts={"type": "integer", "description": "how many times the request was sent"},
        answered_at=nullable(TIME),
        answer=nullable({"type": "string", "enum": ["done", "not_held"]}),
        reference=nullable({"type": "string"}),
    ),
    "ErasureRequest": one_of_person(
        strict(
            [],
            email=EMAIL,
            subject_id={"type": "integer", "minimum": 1, "maximum": MAX_ID},
            reason={"type": "string", "maxLength": 500},
        )
    ),
    "RelationshipRequest": one_of_person(
        strict(
            ["relationship"],
            email=EMAIL,
            subject_id={"type": "integer", "minimum": 1, "maximum": MAX_ID},
            relationship=nullable(
                {"type": "string", "enum": ["customer", "former_customer", "prospect"]}
            ),
        )
    ),
    "RelationshipResponse": strict(
        ["status", "subject_id", "relationship"],
        status={"type": "string", "enum": ["pending", "active", "unknown"]},
        subject_id=nullable({"type": "integer"}),
        relationship=nullable({"type": "string"}),
    ),
    "ErasureResponse": strict(
        ["status", "subject_id", "erasure_id"],
        status={"type": "string", "enum": ["erased", "unknown", "suppressed"]},
        subject_id=nullable({"type": "integer"}),
        erasure_id=nullable({"type": "string"}),
    ),
    "Consent": strict(
        ["brand", "topic", "channel", "state", "since", "source", "policy_version", "text_version"],
        brand={"type": "string"},
        topic={"type": "string"},
        channel=CHANNEL,
        state={"type": "string", "enum": CONSENT_STATE},
        since=TIME,
        source={"type": "string"},
        policy_version=nullable({"type": "string"}),
        text_version=nullable({"type": "integer"}),
    ),
    "SubjectConsents": strict(
        ["status", "subject_id", "consents"],
        status={
            "type": "string",
            "enum": ["pending", "active", "erased", "unknown", "suppressed"],
            "description": "unknown: no such person for this client; suppressed: never contact",
        },
        subject_id=nullable({"type": "integer"}),
        consents={"type": "array", "items": ref("Consent")},
        external_id={**EXTERNAL_ID, "description": "looked up by it: the client's own id"},
    ),
    "ExternalIdRequest": strict(["external_id"], external_id=EXTERNAL_ID),
    "ProfileFieldState": strict(
        ["value", "source", "last_confirmed", "updated_at"],
        value={
            "anyOf": [{"type": "string"}, ref("PostalAddress"), {"type": "null"}],
            "description": "null: not held",
        },
        source=nullable(
            {
                "type": "string",
                "description": "who last set it: person, customer_service, api:<client name>",
            }
        ),
        last_confirmed=nullable({**TIME, "description": "when it was last said to be right"}),
        updated_at=nullable(TIME),
    ),
    "PostalAddress": strict(
        ["lines", "postcode", "city", "country"],
        lines={
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "items": {"type": "string", "maxLength": 120, "pattern": PLAIN},
            "contains": {"pattern": FILLED},
            "description": "blank lines are left out; at least one is not blank",
        },
        postcode={"type": "string", "minLength": 1, "maxLength": 16, "pattern": FILLED},
        city={"type": "string", "minLength": 1, "maxLength": 80, "pattern": FILLED},
        country={
            "type": "string",
            "enum": sorted(COUNTRIES) + sorted(code.lower() for code in COUNTRIES),
            "description": "ISO 3166-1 alpha-2, in either case",
        },
    ),
    "Profile": strict(
        ["subject_id", "fields"],
        subject_id={"type": "integer"},
        fields={
            "type": "object",
            "additionalProperties": False,
            "properties": {
                name: ref("ProfileFieldState")
                for name in ("first_name", "last_name", "mobile_number", "postal_address")
            },
        },
    ),
    "ProfileUpdate": {
        **strict(
            [],
            first_name=nullable({"type": "string", "maxLength": 100, "pattern": PLAIN}),
            last_name=nullable({"type": "string", "maxLength": 100, "pattern": PLAIN}),
            mobile_number={
                "type": "string",
                "minLength": 1,
                "maxLength": 40,
                "description": "with its country code: +33 6 12 34 56 78",
            },
            postal_address=ref("PostalAddress"),
        ),
        "minProperties": 1,
        "description": "The fields to set; null clears a name. Each is validated as on the "
        "person's own My data page (422 naming the field).",
    },
    "ExternalIdResponse": strict(
        ["subject_id", "external_id"], subject_id={"type": "integer"}, external_id=EXTERNAL_ID
    ),
    "CheckRequest": strict(
        ["brand", "topic", "channel", "emails"],
        brand=NAME,
        topic=NAME,
        channel=CHANNEL,
        emails={"type": "array", "minItems": 1, "maxItems": BULK_LIMIT, "items": ANY_ADDRESS},
    ),
    "CheckResult": strict(
        ["email", "state", "contact"],
        email={"type": "string"},
        state={"type": "string", "enum": [*CONSENT_STATE, "unknown", "suppressed", "invalid"]},
        contact={"type": "boolean", "description": "true only for a granted, unsuppressed consent"},
    ),
    "CheckResponse": strict(["results"], results={"type": "array", "items": ref("CheckResult")}),
    "Evidence": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            name: {"type": "string", "minLength": 1, "maxLength": 500, "pattern": PLAIN}
            for name in ("agent", "recording", "document", "store", "note")
        },
    },
    "RecordRequest": grant_has_text(
        ["email", "brand", "topic", "channel", "action", "captured_at", "evidence"],
        email=EMAIL,
        brand=NAME,
        topic=NAME,
        channel=CHANNEL,
        action={"type": "string", "enum": ["grant", "withdraw"]},
        captured_at={
            **TIME,
            "description": "when the person gave or withdrew consent: changes count in this "
            "order, not in the order they arrive; not before the site group was set up, not "
            "further in the future than the server's allowed clock skew",
        },
        evidence=ref("Evidence"),
        text_version={"type": "integer", "minimum": 1, "maximum": MAX_ID},
        language={"type": "string", "enum": ["en", "fr", "de"]},
    ),
    "RecordResponse": strict(
        ["subject_id", "brand", "topic", "channel", "state", "changed"],
        subject_id=nullable({"type": "integer"}),
        brand={"type": "string"},
        topic={"type": "string"},
        channel=CHANNEL,
        state={"type": "string", "enum": [*CONSENT_STATE, "unknown"]},
        changed={"type": "boolean"},
        result={
            "type": "string",
            "enum": ["applied", "unchanged", "stale"],
            "description": "stale: captured before the latest stored change of this consent, "
            "so kept in the ledger as history without changing the state",
        },
        receipt=nullable(
            {
                "type": "string",
                "pattern": "^[0-9a-f]{64}$",
                "description": "the hash of the ledger entry this write made, to store as "
                "proof: unique, kept through erasure, checked by the ledger's hash chain; "
                "null when nothing was written",
            }
        ),
    ),
    "BulkRequest": strict(
        ["changes"],
        changes={
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_CHANGES,
            "items": {
                "description": "A BulkChange. Each change is read, decided and answered on its "
                "own: one that does not match BulkChange is refused in its result, not the "
                "request."
            },
        },
    ),
    "BulkResponse": strict(
        ["results", "counts"],
        results={
            "type": "array",
            "items": {"anyOf": [ref("BulkResult"), ref("BulkRefusal")]},
            "description": "one per change, in the order sent",
        },
        counts=strict(
            ["applied", "unchanged", "stale", "refused"],
            applied={"type": "integer"},
            unchanged={"type": "integer"},
            stale={"type": "integer"},
            refused={"type": "integer"},
        ),
    ),
    "BulkRefusal": strict(
        ["key", "result", "problem"],
        key=nullable({"type": "string"}),
        result={"type": "string", "const": "refused"},
        problem={
            **ref("Problem"),
            "description": "why, as the same change sent alone would have been refused",
        },
    ),
    "Event": strict(
        ["id", "type", "created_at", "data"],
        id={"type": "string", "description": "also the cursor to resume after this event"},
        type={"type": "string", "enum": [*EVENT_TYPES, ERASURE_REQUESTED]},
        created_at=TIME,
        data={"type": "object"},
    ),
    "FeedPage": strict(
        ["events", "next_cursor", "has_more"],
        events={"type": "array", "items": ref("Event")},
        next_cursor={"type": "string"},
        has_more={"type": "boolean"},
    ),
    "WebhookRequest": strict(
        ["url", "events"],
        url={
            "type": "string",
            "maxLength": 2000,
            "pattern": webhook_url("https"),
            "description": "A webhook URL must be an https:// address of a receiver at a public "
            "internet address (a host name or an IPv4 address), with an optional port, path and "
            "query, and no user name or password.",
        },
        events={
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"type": "string", "enum": list(EVENT_TYPES)},
        },
    ),
    "Webhook": strict(
        ["id", "url", "events", "created_at"],
        id={"type": "integer"},
        url={"type": "string"},
        events={"type": "array", "items": {"type": "string", "enum": list(EVENT_TYPES)}},
        created_at=TIME,
    ),
    "WebhookList": strict(["webhooks"], webhooks={"type": "array", "items": ref("Webhook")}),
    "Delivery": strict(
        [
            "id",
            "event",
            "status",
            "attempts",
            "last_status",
            "last_error",
            "created_at",
            "next_attempt_at",
            "delivered_at",
        ],
        id={"type": "integer"},
        event={"type": "string"},
        status={"type": "string", "enum": ["queued", "delivered", "failed"]},
        attempts={"type": "integer"},
        last_status=nullable({"type": "integer"}),
        last_error=nullable({"type": "string"}),
        created_at=TIME,
        next_attempt_at=TIME,
        delivered_at=nullable(TIME),
    ),
    "Removed": strict(["id", "removed"], id={"type": "integer"}, removed={"type": "boolean"}),
    "DeliveryList": strict(["deliveries"], deliveries={"type": "array", "items": ref("Delivery")}),
    "Brand": strict(
        [
            "slug",
            "name",
            "policy_version",
            "privacy_policy_url",
            "latest_text_version",
            "archived",
        ],
        slug={"type": "string"},
        name={"type": "string"},
        policy_version={"type": "string"},
        privacy_policy_url={"type": "string"},
        latest_text_version=nullable({"type": "integer"}),
        archived={"type": "boolean"},
    ),
    "BrandList": strict(["brands"], brands={"type": "array", "items": ref("Brand")}),
    "Topic": strict(
        ["brand", "key", "names", "descriptions", "channels", "marketing"],
        brand={"type": "string"},
        key={"type": "string", "description": "what a grant names as its topic"},
        names=IN_LANGUAGES,
        descriptions=IN_LANGUAGES,
        channels={"type": "array", "items": CHANNEL},
        marketing={"type": "boolean"},
    ),
    "TopicList": strict(["topics"], topics={"type": "array", "items": ref("Topic")}),
    "ConsentTextVersion": strict(
        ["brand", "version", "latest", "languages", "texts", "created_at"],
        brand={"type": "string"},
        version={"type": "integer", "description": "what a grant sends as text_version"},
        latest={"type": "boolean"},
        languages={"type": "array", "items": {"type": "string"}},
        texts=IN_LANGUAGES,
        created_at=TIME,
    ),
    "ConsentTextList": strict(
        ["consent_texts"], consent_texts={"type": "array", "items": ref("ConsentTextVersion")}
    ),
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    },
}
KEY = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "pattern": "^[\\x21-\\x7e]+$",
    "description": "this change's idempotency key: sent again with the same change, it gets "
    "the first answer again with no second effect; with another change, it is refused",
}
SCHEMAS["BulkChange"] = {
    **SCHEMAS["RecordRequest"],
    "required": ["key", *SCHEMAS["RecordRequest"]["required"]],
    "properties": {"key": KEY, **SCHEMAS["RecordRequest"]["properties"]},
}
SCHEMAS["BulkResult"] = {
    **SCHEMAS["RecordResponse"],
    "required": ["key", *SCHEMAS["RecordResponse"]["required"], "result", "receipt"],
    "properties": {"key": {"type": "string"}, **SCHEMAS["RecordResponse"]["properties"]},
}
SCHEMAS["WebhookCreated"] = {
    **SCHEMAS["Webhook"],
    "required": [*SCHEMAS["Webhook"]["required"], "secret"],
    "properties": {
        **SCHEMAS["Webhook"]["properties"],
        "secret": {"type": "string", "description": "shown once: signs every delivery"},
    },
}
# OAuth 2.0 client credentials (RFC 6749 section 4.4): the token endpoint's form and answers.
SCHEMAS["TokenRequest"] = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]},
        "scope": {"type": "string", "description": "Scopes asked for, space-separated."},
        "client_id": {"type": "string", "description": "With client_secret_post: the id."},
        "client_secret": {"type": "string", "description": "With client_secret_post: a key."},
    },
}
SCHEMAS["TokenResponse"] = {
    "type": "object",
    "required": ["access_token", "token_type", "expires_in", "scope"],
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"type": "string", "enum": ["Bearer"]},
        "expires_in": {"type": "integer", "description": "Seconds the token is valid."},
        "scope": {"type": "string", "description": "The scopes granted, space-separated."},
    },
}
SCHEMAS["OAuthError"] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "string",
            "enum": [
                "invalid_request",
                "invalid_client",
                "invalid_grant",
                "unauthorized_client",
                "unsupported_grant_type",
                "invalid_scope",
            ],
        },
        "error_description": {"type": "string"},
    },
}
SCHEMAS["PingQueued"] = strict(
    ["id", "event", "type"],
    id={"type": "integer", "description": "The endpoint."},
    event={"type": "string", "description": "The ping event's id (Portal-Event-Id)."},
    type={"type": "string", "enum": ["webhook.ping"]},
)
SCHEMAS["WebhookSecret"] = {
    **SCHEMAS["WebhookCreated"],
    "required": [*SCHEMAS["WebhookCreated"]["required"], "previous_secret_until"],
    "properties": {
        **SCHEMAS["WebhookCreated"]["properties"],
        "previous_secret_until": {
            **TIME,
            "description": "Until then each delivery is signed with both secrets.",
        },
    },
}
SCHEMAS["RedeliveryRequest"] = strict(
    ["since"],
    since={
        **TIME,
        "description": "Send again every failed delivery to the endpoint created at or after "
        "this time.",
    },
)
SCHEMAS["Redelivery"] = strict(
    ["id", "redelivered"],
    id={"type": "integer", "description": "The endpoint."},
    redelivered={
        "type": "integer",
        "description": "How many failed deliveries were queued again (0: none had failed).",
    },
)
# In development (WEBHOOKS_ALLOW_INSECURE) a receiver may be plain http on this machine.
INSECURE = {
    **SCHEMAS,
    "WebhookRequest": {
        **SCHEMAS["WebhookRequest"],
        "properties": {
            **SCHEMAS["WebhookRequest"]["properties"],
            "url": {"type": "string", "maxLength": 2000, "pattern": "^https?://[^\\s]+$"},
        },
    },
}


def published(insecure: bool) -> dict:
    """The schemas as this server applies them: ``INSECURE`` where http receivers are allowed."""
    return INSECURE if insecure else SCHEMAS
