"""Whole-subject requests from integrating systems: erasure, the customer relationship, and
the client's own id for a subject."""

import re
from functools import partial

from flask import jsonify, request

from portal.api import blueprint, io
from portal.api.auth import requires
from portal.api.consent import MAX_ID
from portal.api.problems import Problem
from portal.api.schemas import EXTERNAL_ID_PATTERN
from portal.core.integrations import api_profile, api_subjects, external_ids, lookup

EXTERNAL_ID = re.compile(EXTERNAL_ID_PATTERN)


def _one_person(schema: str) -> dict:
    """The body, naming its person by exactly one of address and subject id."""
    data = io.body(schema)
    if ("email" in data) == ("subject_id" in data):
        raise Problem(422, "Give exactly one of 'email' and 'subject_id'.", "invalid-body")
    return data


def _answer(change, *args) -> tuple[int, dict]:
    """Both changes answer 200: an unknown or already erased person is an answer too."""
    return 200, change(*args)


@blueprint.post("/subjects/erasures")
@requires("subjects:erase")
def erase(client):
    """Erase one person, by address (in the body) or subject id: the self-service erasure."""
    data = _one_person("ErasureRequest")
    operation = partial(
        _answer,
        api_subjects.erase,
        client,
        data.get("email"),
        data.get("subject_id"),
        data.get("reason", ""),
        request.remote_addr,
        request.headers.get("User-Agent"),
    )
    return io.idempotent(client, operation)  # NotFound becomes a 404 problem for the blueprint


@blueprint.post("/subjects/relationship")
@requires("consent:write")
def relationship(client):
    """Customer, former customer or prospect (null: not said); retention rules read it."""
    data = _one_person("RelationshipRequest")
    operation = partial(
        _answer,
        api_subjects.set_relationship,
        client,
        data.get("email"),
        data.get("subject_id"),
        data["relationship"],
    )
    return io.idempotent(client, operation)


@blueprint.put("/subjects/<int:subject_id>/external-id")
@requires("consent:write")
def external_id(client, subject_id: int):
    """Attach the client's own id (its CRM's) to a subject it can see; 409 if the client gave
    it to someone else, 404 for a subject it cannot see. Setting it again is harmless."""
    if not 0 < subject_id <= MAX_ID:
        raise Problem(404, "Nothing with this identifier is open to this client.")
    data = io.body("ExternalIdRequest")
    return jsonify(external_ids.attach(client, subject_id, data["external_id"]))


@blueprint.get("/subjects/external/<external_id>/consents")
@requires("consent:read", personal=True)
def lookup_by_external_id(client, external_id: str):
    """The consents of the subject the client gave ``external_id`` to (404: none)."""
    subject_id = (
        external_ids.find(client, external_id) if EXTERNAL_ID.fullmatch(external_id) else None
    )
    if subject_id is None:
        raise Problem(404, "Nothing with this identifier is open to this client.")
    return jsonify({**lookup.by_id(client, subject_id), "external_id": external_id})


@blueprint.get("/subjects/<int:subject_id>/profile")
@requires("profile:read", personal=True)
def profile_of(client, subject_id: int):
    """Names, mobile number and postal address, each with its source and last confirmation."""
    if not 0 < subject_id <= MAX_ID:
        raise Problem(404, "Nothing with this identifier is open to this client.")
    return jsonify(api_profile.read(client, subject_id))


@blueprint.patch("/subjects/<int:subject_id>/profile")
@requires("profile:write")
def update_profile(client, subject_id: int):
    """Set the fields sent (null clears a name); answers those fields as now stored."""
    if not 0 < subject_id <= MAX_ID:
        raise Problem(404, "Nothing with this identifier is open to this client.")
    values = api_profile.parse(io.body("ProfileUpdate"))
    stored = api_profile.write(client, subject_id, values)
    sent = {name: state for name, state in stored["fields"].items() if name in values}
    return jsonify({**stored, "fields": sent})
