"""One declaration per API operation: it guards and reads the request, and it is what the
OpenAPI document says.

``@operation(...)`` sits under a view's route. It names the operation (operationId, summary),
the scope and whether the answer holds personal data (``auth.requires``), the request body's
schema (validated here, handed to the view as ``body``), the answers and their schemas, an
example of each, the errors the view may answer, the links a client (or a stateful fuzzer)
follows from one answer to the next operation, and whether the view only reads and may read
from the replica. ``openapi.document`` assembles the document
from the views registered on the blueprint at that moment, so an operation cannot be served
without being documented, nor documented the way it is not served.
"""

from dataclasses import dataclass, field
from functools import wraps

from portal.api import io
from portal.api.auth import requires
from portal.api.problems import Problem
from portal.core.kernel.models.base import MAX_ID

ANY_KEY = "any"  # a scope: any valid key (a request only ever its own client's)
PUBLIC = "public"  # no key: the token endpoint, where the client authenticates itself
NOT_FOUND = "Nothing with this identifier is open to this client."


@dataclass(frozen=True)
class Operation:
    """What one view is, as a client sees it."""

    operation_id: str
    summary: str
    scope: str
    ok: str  # the schema of the successful answer
    example: dict  # of the successful answer
    status: int = 200
    personal: bool = False  # the answer holds personal data: accepted terms required
    body: str | None = None  # the schema of the request body, validated before the view
    body_example: dict | None = None
    items_of: str | None = None  # the body's one list: only its envelope is read here, each
    # item is left to the view (a bulk request answers each item on its own)
    items_limit: int = 0  # at most this many items (more: 413)
    params: tuple = ()  # query and header parameters (OpenAPI objects)
    path_params: dict = field(default_factory=dict)  # name -> schema of a string segment
    errors: tuple = ()  # statuses beyond those the declaration implies
    write: bool = False  # takes an Idempotency-Key
    conditional: bool = False  # ETag and If-None-Match
    headers: dict = field(default_factory=dict)  # of the successful answer
    also: dict = field(default_factory=dict)  # other successful answers: status -> description
    links: dict = field(default_factory=dict)  # name -> (operationId, {parameter: expression})
    responses: dict = field(default_factory=dict)  # other answers: status -> OpenAPI object
    openapi: dict = field(default_factory=dict)  # merged last: what the helpers cannot say
    # Both declared by every operation (``operation`` refuses one without), so no view is left
    # out of either choice. ``reads_only``: the view writes nothing but the client's last use
    # (one statement), so it runs without BEGIN/ROLLBACK (``transaction.reads_only``).
    # ``may_lag``: its plain reads may go to the read replica (``portal.replica``).
    reads_only: bool | None = None
    may_lag: bool | None = None


def _checked_ids(kwargs: dict) -> None:
    """Integer path segments out of the stored range name nothing: 404, never a database error."""
    for value in kwargs.values():
        if isinstance(value, int) and not 0 < value <= MAX_ID:
            raise Problem(404, NOT_FOUND)


def operation(**declared):
    """Declare a view as an API operation (see ``Operation``); guards it with its scope and
    reads its body against its schema, so what is documented is what is enforced."""
    declaration = Operation(**declared)
    if declaration.reads_only is None or declaration.may_lag is None:
        raise TypeError(f"{declaration.operation_id}: declare reads_only and may_lag")
    if declaration.reads_only and declaration.write:
        raise TypeError(f"{declaration.operation_id}: a write is one transaction, never reads_only")

    def decorator(view):
        @wraps(view)
        def read(*args, **kwargs):
            _checked_ids(kwargs)
            for name, schema in declaration.path_params.items():
                value = kwargs.get(name, "")
                if len(value) > schema.get("maxLength", len(value)):
                    raise Problem(404, NOT_FOUND)
            if declaration.items_of:
                kwargs["body"] = io.envelope(declaration.items_of, declaration.items_limit)
            elif declaration.body:
                kwargs["body"] = io.body(declaration.body)
            return view(*args, **kwargs)

        if declaration.scope == PUBLIC:
            guarded = read
        else:
            scope = None if declaration.scope == ANY_KEY else declaration.scope
            guarded = requires(scope, personal=declaration.personal)(read)
        guarded.operation = declaration
        return guarded

    return decorator


def of(view) -> Operation | None:
    """The declaration of a registered view, if it is an API operation."""
    return getattr(view, "operation", None)
