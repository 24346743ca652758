"""Recipients answer the erasure requests they were sent (``erasure.requested`` events)."""

from functools import partial

from portal.api import blueprint, examples, io
from portal.api.contract import ANY_KEY, operation
from portal.core.integrations import erasure_requests

MAX_ID = 36


def _acknowledge(client, request_id: str, answer: str, reference: str | None):
    return 200, erasure_requests.acknowledge(client, request_id, answer, reference)


@blueprint.post("/erasures/<request_id>/acknowledgement")
@operation(
    operation_id="acknowledgeErasureRequest",
    reads_only=False,
    may_lag=False,
    summary="Answer an erasure request you were sent (event erasure.requested): 'done' or "
    "'not_held', with your own reference; the same answer again is the same answer, another "
    "one is 409",
    scope=ANY_KEY,  # a request is only ever its own recipient's
    path_params={"request_id": {"type": "string", "maxLength": MAX_ID}},
    body="Acknowledgement",
    body_example={"answer": "done", "reference": "CRM-DEL-2291"},
    ok="ErasureRequestState",
    example=examples.ACKNOWLEDGED,
    write=True,
    errors=(404,),
)
def acknowledge(client, request_id: str, body):
    """``done`` or ``not_held``, with an optional reference of the recipient's own. The same
    answer again is the same answer (200); another one is refused (409)."""
    data = body
    write = partial(_acknowledge, client, request_id, data["answer"], data.get("reference"))
    return io.idempotent(client, write)
