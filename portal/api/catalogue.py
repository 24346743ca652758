"""Discover before writing: the client's brands, topics and consent texts, read-only.

Each answer carries a strong ETag (a hash of its exact bytes) and is revalidated with
If-None-Match (RFC 9110 §13.1.2): an unchanged document costs the client a 304 and no body.
"""

import hashlib

from flask import jsonify, request

from portal.api import blueprint, examples
from portal.api.contract import operation
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


BRAND_FILTER = {
    "name": "brand",
    "in": "query",
    "required": False,
    "description": "Only this brand (its slug); none: every brand open to the client.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_SLUG},
}


@blueprint.get("/brands")
@operation(
    operation_id="listBrands",
    reads_only=True,
    may_lag=True,
    summary="The brands open to this client, with their latest consent-text version",
    scope="consent:read",
    ok="BrandList",
    example=examples.BRANDS,
    conditional=True,
)
def brands(client):
    return conditional({"brands": catalogue.brands(client)})


@blueprint.get("/topics")
@operation(
    operation_id="listTopics",
    reads_only=True,
    may_lag=True,
    summary="The topics of the client's brands: keys, channels, names in each language",
    scope="consent:read",
    ok="TopicList",
    example=examples.TOPICS,
    params=(BRAND_FILTER,),
    errors=(404,),
    conditional=True,
)
def topics(client):
    return conditional({"topics": catalogue.topics(client, _brand_filter())})


@blueprint.get("/consent-texts")
@operation(
    operation_id="listConsentTexts",
    reads_only=True,
    may_lag=True,
    summary="Every version of the client's brands' consent texts, with their languages: "
    "a grant's text_version is one of these",
    scope="consent:read",
    ok="ConsentTextList",
    example=examples.CONSENT_TEXTS,
    params=(BRAND_FILTER,),
    errors=(404,),
    conditional=True,
)
def consent_texts(client):
    return conditional({"consent_texts": catalogue.consent_texts(client, _brand_filter())})
