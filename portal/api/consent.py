"""Consent endpoints: look up one subject, check an audience, record captured consent."""

from functools import partial

import orjson
from flask import Response, request

from portal.api import blueprint, examples, io
from portal.api.contract import operation
from portal.core.consent import recording
from portal.core.consent.models import PENDING
from portal.core.integrations import lookup


@blueprint.post("/consents/lookup")
@operation(
    operation_id="lookupConsentsByEmail",
    reads_only=True,
    may_lag=True,
    summary="The consents of one subject, found by address",
    scope="consent:read",
    personal=True,
    body="LookupRequest",
    body_example={"email": "ada@example.org"},
    ok="SubjectConsents",
    example=examples.SUBJECT_CONSENTS,
    links={
        "consentsById": ("getSubjectConsents", {"subject_id": "$response.body#/subject_id"}),
        "profile": ("getProfile", {"subject_id": "$response.body#/subject_id"}),
    },
)
def lookup_by_email(client, body):
    """By address in the body, never in the URL: addresses stay out of access logs."""
    return io.answer(lookup.by_email(client, body["email"]))


@blueprint.get("/subjects/<int:subject_id>/consents")
@operation(
    operation_id="getSubjectConsents",
    reads_only=True,
    may_lag=True,
    summary="The consents of one subject, by id",
    scope="consent:read",
    personal=True,
    ok="SubjectConsents",
    example=examples.SUBJECT_CONSENTS,
    links={
        "profile": ("getProfile", {"subject_id": "$request.path.subject_id"}),
        "attachExternalId": ("setExternalId", {"subject_id": "$request.path.subject_id"}),
    },
)
def lookup_by_id(client, subject_id: int):
    return io.answer(lookup.by_id(client, subject_id))


@blueprint.post("/consents/check")
@operation(
    operation_id="checkAudience",
    reads_only=True,
    may_lag=True,
    summary="May we contact each of these addresses about a topic on a channel?",
    scope="consent:read",
    personal=True,
    body="CheckRequest",
    body_example={
        "brand": "camille",
        "topic": "events",
        "channel": "email",
        "emails": ["ada@example.org", "grace@example.org"],
    },
    ok="CheckResponse",
    example=examples.CHECK,
)
def check(client, body):
    data = body
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
@operation(
    operation_id="recordConsent",
    reads_only=False,
    may_lag=False,
    summary="Record a grant or withdrawal captured elsewhere",
    scope="consent:write",
    body="RecordRequest",
    body_example=examples.CAPTURE,
    ok="RecordResponse",
    example=examples.RECORDED,
    write=True,
    also={202: "An email grant waiting for the person's confirmation"},
    links={
        "consentsOfSubject": ("getSubjectConsents", {"subject_id": "$response.body#/subject_id"})
    },
)
def record(client, body):
    capture = capture_of(body)
    write = partial(
        _record, client, capture, request.remote_addr, request.headers.get("User-Agent")
    )
    return io.idempotent(client, write)


def _record(client, capture, ip, user_agent) -> tuple[int, dict]:
    answer = recording.record(client, capture, ip, user_agent)
    # 202 Accepted: an email grant waits for the person's confirmation (double opt-in).
    return (202 if answer["state"] == PENDING else 200), answer
