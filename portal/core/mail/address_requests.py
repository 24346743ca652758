"""Requests that name an address a stranger typed: recorded alike, decided by the worker.

A sign-up, a magic-link request, an address change (and the console's password reset) must not
tell whether the address belongs to someone, by their answer or by their time. So the request
path only checks the input and records the request: one row, keyed by the address's keyed hash,
with the address and details encrypted, the same statements whoever holds the address. The
worker then decides, per kind, what the request calls for (which mail, if any) and deletes the
row in the same transaction. A handler that fails leaves the row for a retry with back-off.

Handlers register with ``@handles(kind)``; a handler gets ``(group_id, address, details,
requested_at)`` and runs inside the worker's transaction.
"""

import json
import logging
import uuid
from collections.abc import Callable

from sqlalchemy import delete, select, update

from portal.core.kernel import clock, leases, subject_keys
from portal.core.kernel.crypto import keys
from portal.core.kernel.leases import Pass
from portal.core.kernel.transaction import commit_session
from portal.core.mail.models import AddressRequest
from portal.extensions import db

log = logging.getLogger(__name__)
_HANDLERS: dict[str, Callable] = {}


def handles(kind: str):
    """Register the function that decides what a request of ``kind`` calls for."""

    def register(handler: Callable) -> Callable:
        _HANDLERS[kind] = handler
        return handler

    return register


def address_key(group_id: int | None, address: str) -> str:
    """The keyed hash a request is filed under: a subject's ``email_hash`` in a group, an
    admin account's without one (``admins.admin_hash``)."""
    return keys().keyed_hash(
        f"{group_id}:{address}" if group_id is not None else f"admin:{address}"
    )


def record(
    kind: str, group_id: int | None, address: str, subject_id: int | None = None, **details
) -> None:
    """Record a request in the caller's transaction: the same single INSERT for any address.

    ``address`` is normalised; ``details`` must be JSON-serialisable.
    """
    db.session.add(
        AddressRequest(
            group_id=group_id,
            kind=kind,
            address_hash=address_key(group_id, address),
            subject_id=subject_id,
            content=json.dumps({"address": address, "details": details}),
            created_at=clock.now(),
            next_attempt_at=clock.now(),
        )
    )


def forget(group_id: int, address_hash: str) -> int:
    """Drop what is still waiting for an address (its person is being erased)."""
    waiting = (AddressRequest.group_id == group_id, AddressRequest.address_hash == address_hash)
    _drop_keys(*waiting)
    return db.session.execute(delete(AddressRequest).where(*waiting)).rowcount


def _drop_keys(*where) -> None:
    """Requests made before their person existed are under one-off keys: these go with them."""
    where = (*where, AddressRequest.subject_id.is_(None))  # a person's own key is not one-off
    refs = subject_keys.sealed_refs(db.session, AddressRequest.content, *where)
    subject_keys.drop_one_off(db.session, refs)


def _decide(row_id: int, owner: str) -> None:
    with commit_session():
        row = db.session.scalar(
            select(AddressRequest).where(
                AddressRequest.id == row_id, AddressRequest.lease_owner == owner
            )
        )
        if row is None:  # our lease ran out and another worker took it
            return
        content = json.loads(row.content)
        handler = _HANDLERS.get(row.kind)
        if handler is None:
            raise LookupError(f"no handler for address requests of kind {row.kind!r}")
        handler(row.group_id, content["address"], content["details"], row.created_at)
        _drop_keys(AddressRequest.id == row.id)
        db.session.delete(row)


def decide_due(limit: int = 100, owner: str | None = None) -> Pass:
    """Decide up to ``limit`` waiting requests, each in its own transaction; the mail they call
    for joins the outbox."""
    owner = owner or uuid.uuid4().hex
    result = Pass()
    for (row_id,) in leases.claim(AddressRequest, owner, limit):
        try:
            _decide(row_id, owner)
        except Exception as error:  # noqa: BLE001 - one bad request must not stop the others
            attempts = (db.session.get(AddressRequest, row_id).attempts or 0) + 1
            error_text = type(error).__name__  # the message may quote the address
            values = result.failed_attempt(attempts, error_text, clock.now())
            log.warning("address request %s attempt %s failed: %s", row_id, attempts, error_text)
            db.session.execute(
                update(AddressRequest)
                .where(AddressRequest.id == row_id, AddressRequest.lease_owner == owner)
                .values(**values)
            )
            db.session.commit()
        else:
            result.decided += 1
    return result


def decide_all(batch: int = 100) -> Pass:
    """Decide everything waiting now, batch after batch."""
    return leases.drain(decide_due, batch)


def waiting() -> int:
    return db.session.scalar(
        select(db.func.count())
        .select_from(AddressRequest)
        .where(AddressRequest.status == leases.QUEUED)
    )
