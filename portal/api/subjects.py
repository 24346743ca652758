"""Whole-subject requests from integrating systems: erasure, and the customer relationship."""

from functools import partial

from flask import request

from portal.api import blueprint, io
from portal.api.auth import requires
from portal.api.problems import Problem
from portal.core.integrations import api_subjects


def _one_person(schema: str) -> dict:
    """The body, naming its person by exactly one of address and subject id."""
    data = io.body(schema)
    if ("email" in data) == ("subject_id" in data):
        raise Problem(422, "Give exactly one of 'email' and 'subject_id'.", "invalid-body")
    return data


@blueprint.post("/subjects/erasures")
@requires("subjects:erase")
def erase(client):
    """Erase one person, by address (in the body) or subject id: the self-service erasure."""
    data = _one_person("ErasureRequest")
    operation = partial(
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
        api_subjects.set_relationship,
        client,
        data.get("email"),
        data.get("subject_id"),
        data["relationship"],
    )
    return io.idempotent(client, operation)
