"""Consent endpoints: look up one subject, check an audience, record captured consent."""

from functools import partial

import orjson
from flask import Response, jsonify, request

from portal.api import blueprint, io
from portal.api.auth import requires
from portal.api.problems import Problem
from portal.core.consent import recording
from portal.core.consent.models import PENDING
from portal.core.integrations import lookup
from portal.core.kernel.models.base import MAX_ID


@blueprint.post("/consents/lookup")
@requires("consent:read", personal=True)
def lookup_by_email(client):
    """By address in the body, never in the URL: addresses stay out of access logs."""
    data = io.body("LookupRequest")
    return jsonify(lookup.by_email(client, data["email"]))


@blueprint.get("/subjects/<int:subject_id>/consents")
@requires("consent:read", personal=True)
def lookup_by_id(client, subject_id: int):
    if not 0 < subject_id <= MAX_ID:
        raise Problem(404, "Nothing with this identifier is open to this client.")
    return jsonify(lookup.by_id(client, subject_id))


@blueprint.post("/consents/check")
@requires("consent:read", personal=True)
def check(client):
    data = io.body("CheckRequest")
    audience = lookup.Audience(data["brand"], data["topic"], data["channel"], data["emails"])
    # orjson: Flask's encoder sorting the keys of 10,000 results took a tenth of the answer.
    answer = orjson.dumps({"results": lookup.check(client, audience)})
    return Response(answer, mimetype="application/json")


def capture_of(data: dict) -> recording.Capture:
    """A change captured elsewhere, as the core takes it, from a validated request (a single
    write's body or one change of a bulk request)."""
    return recording.Capture(
        email=data["email"],
        brand=data["brand"],
        topic=data["topic"],
        channel=data["channel"],
        action=data["action"],
        captured_at=io.moment(data["captured_at"], "captured_at"),
        evidence=data["evidence"],
        text_version=data.get("text_version"),
        language=data.get("language"),
    )


@blueprint.post("/consents")
@requires("consent:write")
def record(client):
    capture = capture_of(io.body("RecordRequest"))
    operation = partial(
        _record, client, capture, request.remote_addr, request.headers.get("User-Agent")
    )
    return io.idempotent(client, operation)


def _record(client, capture, ip, user_agent) -> tuple[int, dict]:
    answer = recording.record(client, capture, ip, user_agent)
    # 202 Accepted: an email grant waits for the person's confirmation (double opt-in).
    return (202 if answer["state"] == PENDING else 200), answer
