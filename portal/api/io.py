"""Reading requests strictly: JSON only, validated against the published schemas."""

import json
from datetime import datetime

import jsonschema_rs
from flask import jsonify, request

from portal.api.problems import Problem
from portal.api.schemas import SCHEMAS
from portal.core.integrations import idempotency


def _resolved(schema):
    """Inline local $refs, so each request schema validates on its own."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _resolved(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]])
        return {key: _resolved(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_resolved(item) for item in schema]
    return schema


# jsonschema-rs: the pure-Python validator took 250 ms over a 10,000-address audience.
VALIDATORS = {
    name: jsonschema_rs.Draft202012Validator(_resolved(schema)) for name, schema in SCHEMAS.items()
}


def body(schema_name: str) -> dict:
    """The request's JSON body, or a problem: 415 not JSON, 400 unreadable, 422 not as documented.

    Bodies over API_MAX_BODY are refused with 413 before they are read.
    """
    if request.mimetype != "application/json":
        raise Problem(415, "Send the body as 'Content-Type: application/json'.")
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Problem(400, "The body is not valid JSON.") from None
    errors = sorted(
        VALIDATORS[schema_name].iter_errors(data), key=lambda e: [str(p) for p in e.instance_path]
    )
    if errors:
        raise Problem(
            422,
            "The body does not match the documented schema.",
            "invalid-body",
            errors=[
                {
                    "field": "/".join(str(p) for p in e.instance_path) or "(body)",
                    "message": e.message[:300],
                }
                for e in errors[:20]
            ],
        )
    return data


def moment(value: str, field: str) -> datetime:
    """An RFC 3339 date-time with its offset; a problem otherwise."""
    try:
        parsed = datetime.fromisoformat(value.upper())
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise Problem(
            422,
            "Give a date and time with its offset, like 2025-03-01T14:30:00+01:00.",
            "invalid-body",
            errors=[{"field": field, "message": "not an RFC 3339 date-time with offset"}],
        )
    return parsed


def idempotent(client, operation):
    """Run a write once per Idempotency-Key (``core.integrations.idempotency``); a JSON answer."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= idempotency.MAX_KEY and key.isprintable()):
        raise Problem(400, "Idempotency-Key must be 1 to 200 printable characters.")
    fingerprint = idempotency.fingerprint(
        request.method, request.path, request.get_data(cache=True)
    )
    try:
        status, answer = idempotency.once(client.id, key, fingerprint, operation)
    except idempotency.KeyReused:
        raise Problem(
            409, "This Idempotency-Key was used for another request.", "idempotency-key-reused"
        ) from None
    response = jsonify(answer)
    response.status_code = status
    return response
