"""Bulk capture: up to 1,000 consent changes in one request, each answered on its own."""

import hashlib

import orjson
from flask import Response, request

from portal.api import blueprint, examples, io, problems
from portal.api.consent import capture_of
from portal.api.contract import operation
from portal.api.problems import Problem
from portal.core.consent import bulk
from portal.core.integrations import idempotency
from portal.core.kernel.errors import InvalidInput, Refused

COUNTED = ("applied", "unchanged", "stale", "refused")


@blueprint.post("/consents/bulk")
@operation(
    operation_id="recordConsentsInBulk",
    reads_only=False,
    may_lag=False,
    summary="Record up to 1,000 grants and withdrawals captured elsewhere, each decided, "
    "kept and answered on its own (applied, unchanged, stale or refused with its problem), "
    "each idempotent by its own key; one request against the rate limit",
    scope="consent:write",
    body="BulkRequest",
    items_of="changes",
    items_limit=bulk.MAX_CHANGES,
    body_example=examples.BULK,
    ok="BulkResponse",
    example=examples.BULK_RESULTS,
    errors=(400,),
    links={
        "consentsOfTheFirst": (
            "getSubjectConsents",
            {"subject_id": "$response.body#/results/0/subject_id"},
        )
    },
)
def record_bulk(client, body):
    """The request is refused as a whole only when its envelope is wrong; each change is read
    and answered on its own. It counts as one request against the client's rate limit."""
    items = body  # read whole first (the declaration's envelope), whatever follows
    if "Idempotency-Key" in request.headers:
        raise Problem(
            400,
            "A bulk request has no Idempotency-Key: each change carries its own 'key'.",
            "idempotency-key-per-change",
        )
    changes = [_read(item) for item in items]
    answers = bulk.record_many(
        client, changes, request.remote_addr, request.headers.get("User-Agent")
    )
    results = [
        answer if isinstance(answer, dict) else _refusal(item, answer)
        for item, answer in zip(items, answers, strict=True)
    ]
    counts = dict.fromkeys(COUNTED, 0)
    for result in results:
        counts[result["result"]] += 1
    body = orjson.dumps({"results": results, "counts": counts})
    return Response(body, mimetype="application/json")


def _read(item) -> bulk.Change | Exception:
    """One change as the core takes it, or the problem that refuses it."""
    try:
        data = io.valid("BulkChange", item)
        capture = capture_of(data)
    except Problem as problem:
        return problem
    # What the change says, whatever the order of its members: its key's fingerprint.
    canonical = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    fingerprint = hashlib.sha256(b"bulk change\n" + canonical).hexdigest()
    return bulk.Change(data["key"], fingerprint, capture)


def _refusal(item, refusal: Exception) -> dict:
    key = item.get("key") if isinstance(item, dict) else None
    return {
        "key": key if isinstance(key, str) else None,
        "result": "refused",
        "problem": _problem(refusal),
    }


def _problem(refusal: Exception) -> dict:
    """The problem the same change sent alone to POST /consents would have been answered."""
    if isinstance(refusal, Problem):
        return problems.document(refusal.status, refusal.detail, refusal.kind, **refusal.extra)
    if isinstance(refusal, InvalidInput):
        message = str(refusal.message)
        errors = [{"field": refusal.field, "message": message}]
        return problems.document(422, message, "invalid-body", errors=errors)
    if isinstance(refusal, Refused):
        return problems.document(409, str(refusal.message), refusal.reason)
    if isinstance(refusal, idempotency.KeyReused):
        return problems.document(
            409, "This key was used for another change.", "idempotency-key-reused"
        )
    raise refusal
