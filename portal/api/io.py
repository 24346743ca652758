"""Reading requests strictly: JSON only, validated against the published schemas."""

from datetime import datetime

import jsonschema_rs
import orjson
from flask import Response, current_app, jsonify, request

from portal.api import schemas
from portal.api.problems import Problem
from portal.core.integrations import idempotency


def _resolved(schema, among: dict):
    """Inline local $refs, so each request schema validates on its own."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _resolved(among[schema["$ref"].rsplit("/", 1)[1]], among)
        return {key: _resolved(value, among) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_resolved(item, among) for item in schema]
    return schema


def _all_resolved(among: dict) -> dict:
    return {name: _resolved(schema, among) for name, schema in among.items()}


def _validators(resolved: dict) -> dict:
    return {name: jsonschema_rs.Draft202012Validator(schema) for name, schema in resolved.items()}


# jsonschema-rs: the pure-Python validator took 250 ms over a 10,000-address audience. Built
# once per variant of the published schemas (``schemas.published``): with and without http
# receivers.
RESOLVED = {insecure: _all_resolved(schemas.published(insecure)) for insecure in (False, True)}
VALIDATORS = {insecure: _validators(RESOLVED[insecure]) for insecure in (False, True)}


# The deepest documented body is three levels; real clients never come near this. A bound far
# below the validator's own recursion limit keeps every deep body a 400, never a crash.
MAX_DEPTH = 32
_CHARSETS = {"utf-8", "utf8"}


def raw_body() -> bytes:
    """The request's bytes, at most API_MAX_BODY of them: a problem 413 otherwise.

    A body with Content-Length is refused before it is read (``limit_body``). A chunked body
    has no length up front: the stream is capped one byte past the limit, so reading that
    byte means the body was too large rather than silently cut short.
    """
    raw = request.get_data(cache=True)
    limit = current_app.config["API_MAX_BODY"]
    if len(raw) > limit:
        raise Problem(413, f"The body may be at most {limit} bytes.")
    return raw


_NESTING = {dict, list}  # what orjson makes of JSON objects and arrays, nothing else


def _depth(data) -> int:
    """How deeply ``data`` nests, counted without recursion (it may be 1,000 levels deep)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                break
            children = value.values() if isinstance(value, dict) else value
            # Only the children that nest further: set(map(type, ...)) looks at the 10,000
            # addresses of an audience in C, where a tuple for each took a tenth of the check.
            if set(map(type, children)) & _NESTING:
                stack.extend((child, level + 1) for child in children if type(child) in _NESTING)
    return deepest


def parsed(raw: bytes):
    """JSON as RFC 8259 has it (UTF-8, no byte order mark, no NaN), nested at most MAX_DEPTH."""
    if raw[:3] == b"\xef\xbb\xbf" or raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise Problem(400, "Send the body as UTF-8 without a byte order mark (RFC 8259).")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Problem(400, "The body is not valid JSON in UTF-8.") from None
    if _depth(data) > MAX_DEPTH:
        raise Problem(400, f"The body nests more than {MAX_DEPTH} levels deep.")
    return data


def _json_body():
    """The request's body as JSON: a problem 415 not JSON, 400 unreadable, 413 too large."""
    if request.mimetype != "application/json":
        raise Problem(415, "Send the body as 'Content-Type: application/json'.")
    charset = request.mimetype_params.get("charset")
    if charset is not None and charset.lower() not in _CHARSETS:
        raise Problem(415, "Send the body as UTF-8: JSON has no other encoding (RFC 8259).")
    return parsed(raw_body())


def body(schema_name: str) -> dict:
    """The request's JSON body, or a problem: 415 not JSON, 400 unreadable, 413 too large,
    422 not as documented.
    """
    return valid(schema_name, _json_body())


def envelope(member: str, limit: int) -> list:
    """The list a bulk request sends as its one ``member``, each item left for the caller to
    read on its own (see ``valid``): a problem only when the envelope is wrong (415, 400 and
    413 as ``body``; 422 not an object with that one list of at least one item; 413 more than
    ``limit`` items)."""
    data = _json_body()
    if not isinstance(data, dict) or set(data) != {member} or not isinstance(data[member], list):
        raise Problem(
            422,
            f"Send an object with one member, '{member}': the list of changes.",
            "invalid-body",
            errors=[{"field": member, "message": "an object with this one list is required"}],
        )
    items = data[member]
    if not items:
        raise Problem(
            422,
            "Send at least one change.",
            "invalid-body",
            errors=[{"field": member, "message": "the list is empty"}],
        )
    if len(items) > limit:
        raise Problem(
            413,
            f"At most {limit} changes per request: send the others in another.",
            "too-many-changes",
        )
    return items


def valid(schema_name: str, data):
    """``data`` if it matches the published schema ``schema_name``; a problem 422 otherwise."""
    insecure = bool(current_app.config["WEBHOOKS_ALLOW_INSECURE"])
    validator = VALIDATORS[insecure][schema_name]
    if validator.is_valid(data):
        return data
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.instance_path])
    if errors:
        resolved = RESOLVED[insecure][schema_name]
        read = [(_field(e), _message(resolved, e)) for e in errors[:20]]
        described = [message for _, message in read if message is not None]
        raise Problem(
            422,
            described[0] if len(errors) == 1 and described else DOES_NOT_MATCH,
            "invalid-body",
            errors=[
                {"field": field, "message": message or e.message[:300]}
                for (field, message), e in zip(read, errors, strict=False)
            ],
        )
    return data


DOES_NOT_MATCH = "The body does not match the documented schema."


def _field(error) -> str:
    """The member at fault: a missing one is named too, not only the object that lacks it."""
    path = [str(p) for p in error.instance_path]
    if isinstance(error.kind, jsonschema_rs.ValidationErrorKind.Required):
        path.append(str(error.kind.property))
    return "/".join(path) or "(body)"


def _message(resolved: dict, error) -> str | None:
    """For a value not matching its pattern, the pattern's description in words (a regular
    expression tells a person little); None otherwise."""
    if not isinstance(error.kind, jsonschema_rs.ValidationErrorKind.Pattern):
        return None
    node = resolved
    for step in list(error.schema_path)[:-1]:
        node = node[step] if isinstance(node, dict) or isinstance(step, int) else None
        if node is None:
            return None
    return node.get("description") if isinstance(node, dict) else None


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
    fingerprint = idempotency.fingerprint(request.method, request.path, raw_body())
    try:
        status, answer = idempotency.once(client.id, key, fingerprint, operation)
    except idempotency.KeyReused:
        raise Problem(
            409, "This Idempotency-Key was used for another request.", "idempotency-key-reused"
        ) from None
    response = jsonify(answer)
    response.status_code = status
    return response


def answer(data: dict) -> Response:
    """``data`` as a JSON answer: what ``jsonify`` writes (keys sorted, a closing newline), in a
    fraction of its time (a single lookup spent 7 % of its CPU in Flask's encoder)."""
    encoded = orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
    return Response(encoded, mimetype="application/json")
