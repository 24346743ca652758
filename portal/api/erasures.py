"""Recipients answer the erasure requests they were sent (``erasure.requested`` events)."""

from functools import partial

from portal.api import blueprint, io
from portal.api.auth import requires
from portal.api.problems import Problem
from portal.core.integrations import erasure_requests

MAX_ID = 36


def _acknowledge(client, request_id: str, answer: str, reference: str | None):
    return 200, erasure_requests.acknowledge(client, request_id, answer, reference)


@blueprint.post("/erasures/<request_id>/acknowledgement")
@requires(None)  # any key: a request is only ever its own recipient's
def acknowledge(client, request_id: str):
    """``done`` or ``not_held``, with an optional reference of the recipient's own. The same
    answer again is the same answer (200); another one is refused (409)."""
    if len(request_id) > MAX_ID:
        raise Problem(404, "Nothing with this identifier is open to this client.")
    data = io.body("Acknowledgement")
    operation = partial(_acknowledge, client, request_id, data["answer"], data.get("reference"))
    return io.idempotent(client, operation)
