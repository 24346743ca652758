"""Whole-subject requests from integrating systems: erasure, the customer relationship, and
the client's own id for a subject."""

import re
from functools import partial

from flask import jsonify, request

from portal.api import blueprint, examples, io
from portal.api.contract import NOT_FOUND, operation
from portal.api.problems import Problem
from portal.api.schemas import EXTERNAL_ID_PATTERN
from portal.core.integrations import api_profile, api_subjects, external_ids, lookup

EXTERNAL_ID = re.compile(EXTERNAL_ID_PATTERN)


def _answer(change, *args) -> tuple[int, dict]:
    """Both changes answer 200: an unknown or already erased person is an answer too."""
    return 200, change(*args)


@blueprint.post("/subjects/erasures")
@operation(
    operation_id="eraseSubject",
    reads_only=False,
    may_lag=False,
    summary="Erase one person (asked by phone or letter): the same erasure as self-service; "
    "'unknown' and 'suppressed' are answers",
    scope="subjects:erase",
    body="ErasureRequest",
    body_example={"email": "ada@example.org", "reason": "Asked by phone, ticket 5521"},
    ok="ErasureResponse",
    example=examples.ERASED,
    write=True,
    errors=(404,),
)
def erase(client, body):
    """Erase one person, by address (in the body) or subject id: the self-service erasure."""
    data = body  # exactly one of email and subject_id: the schema's oneOf
    write = partial(
        _answer,
        api_subjects.erase,
        client,
        data.get("email"),
        data.get("subject_id"),
        data.get("reason", ""),
        request.remote_addr,
        request.headers.get("User-Agent"),
    )
    return io.idempotent(client, write)  # NotFound becomes a 404 problem for the blueprint


@blueprint.post("/subjects/relationship")
@operation(
    operation_id="setRelationship",
    reads_only=False,
    may_lag=False,
    summary="Say what a person is to the group (customer, former customer, prospect); "
    "retention rules read it",
    scope="consent:write",
    body="RelationshipRequest",
    body_example={"email": "ada@example.org", "relationship": "customer"},
    ok="RelationshipResponse",
    example=examples.RELATIONSHIP,
    write=True,
    errors=(404,),
)
def relationship(client, body):
    """Customer, former customer or prospect (null: not said); retention rules read it."""
    data = body
    write = partial(
        _answer,
        api_subjects.set_relationship,
        client,
        data.get("email"),
        data.get("subject_id"),
        data["relationship"],
    )
    return io.idempotent(client, write)


@blueprint.put("/subjects/<int:subject_id>/external-id")
@operation(
    operation_id="setExternalId",
    reads_only=False,
    may_lag=False,
    summary="Attach your own id for a subject (your CRM's); it comes back in your feed and "
    "webhook events about the person, to you alone, and finds them",
    scope="consent:write",
    body="ExternalIdRequest",
    body_example={"external_id": "crm-00042"},
    ok="ExternalIdResponse",
    example=examples.EXTERNAL_ID,
    errors=(409,),
    links={
        "consentsByExternalId": (
            "lookupByExternalId",
            {"external_id": "$response.body#/external_id"},
        )
    },
)
def external_id(client, subject_id: int, body):
    """Attach the client's own id (its CRM's) to a subject it can see; 409 if the client gave
    it to someone else, 404 for a subject it cannot see. Setting it again is harmless."""
    return jsonify(external_ids.attach(client, subject_id, body["external_id"]))


@blueprint.get("/subjects/external/<external_id>/consents")
@operation(
    operation_id="lookupByExternalId",
    reads_only=True,
    may_lag=True,
    summary="The consents of one subject, by the id you attached",
    scope="consent:read",
    personal=True,
    path_params={"external_id": {"type": "string", "pattern": EXTERNAL_ID_PATTERN}},
    ok="SubjectConsents",
    example={**examples.SUBJECT_CONSENTS, "external_id": "crm-00042"},
    errors=(404,),
)
def lookup_by_external_id(client, external_id: str):
    """The consents of the subject the client gave ``external_id`` to (404: none)."""
    subject_id = (
        external_ids.find(client, external_id) if EXTERNAL_ID.fullmatch(external_id) else None
    )
    if subject_id is None:
        raise Problem(404, NOT_FOUND)
    return jsonify({**lookup.by_id(client, subject_id), "external_id": external_id})


@blueprint.get("/subjects/<int:subject_id>/profile")
@operation(
    operation_id="getProfile",
    reads_only=True,
    may_lag=True,
    summary="Names, mobile number and postal address of one subject, each with its source "
    "and when it was last confirmed",
    scope="profile:read",
    personal=True,
    ok="Profile",
    example=examples.PROFILE,
)
def profile_of(client, subject_id: int):
    """Names, mobile number and postal address, each with its source and last confirmation."""
    return jsonify(api_profile.read(client, subject_id))


@blueprint.patch("/subjects/<int:subject_id>/profile")
@operation(
    operation_id="updateProfile",
    reads_only=False,
    may_lag=False,
    summary="Set profile fields (a profile.updated event per changed field); answers the "
    "fields sent as now stored",
    scope="profile:write",
    body="ProfileUpdate",
    body_example=examples.PROFILE_UPDATE,
    ok="Profile",
    example=examples.PROFILE_UPDATED,
)
def update_profile(client, subject_id: int, body):
    """Set the fields sent (null clears a name); answers those fields as now stored."""
    values = api_profile.parse(body)
    stored = api_profile.write(client, subject_id, values)
    sent = {name: state for name, state in stored["fields"].items() if name in values}
    return jsonify({**stored, "fields": sent})
