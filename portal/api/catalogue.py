"""Discover before writing: the client's brands, topics and consent texts, read-only.

Each answer carries a strong ETag (a hash of its exact bytes) and is revalidated with
If-None-Match (RFC 9110 §13.1.2): an unchanged document costs the client a 304 and no body.
"""

import hashlib

from flask import jsonify, request

from portal.api import blueprint
from portal.api.auth import requires
from portal.api.problems import Problem
from portal.core.integrations import catalogue

# Private: a client limited to some brands gets another document than its neighbour.
# no-cache: a cache may keep the answer but asks again (with If-None-Match) before each use.
CACHE_CONTROL = "private, no-cache"
MAX_SLUG = 40


def _brand_filter() -> str | None:
    brand = request.args.get("brand")
    if brand is not None and not 0 < len(brand) <= MAX_SLUG:
        raise Problem(404, "Nothing with this identifier is open to this client.")
    return brand


def conditional(document: dict):
    """``document`` as JSON with a strong ETag; 304 without a body when If-None-Match has it."""
    response = jsonify(document)
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response.make_conditional(request)


@blueprint.get("/brands")
@requires("consent:read")
def brands(client):
    return conditional({"brands": catalogue.brands(client)})


@blueprint.get("/topics")
@requires("consent:read")
def topics(client):
    return conditional({"topics": catalogue.topics(client, _brand_filter())})


@blueprint.get("/consent-texts")
@requires("consent:read")
def consent_texts(client):
    return conditional({"consent_texts": catalogue.consent_texts(client, _brand_filter())})
