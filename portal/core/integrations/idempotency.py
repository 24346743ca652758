"""Idempotency keys: a retried write gets the first answer back and has no second effect.

The answer is stored in the same transaction as the change, so either both exist or neither.
Two requests racing with one key meet at the unique constraint; the loser rolls back and
returns the winner's answer. Records are kept ``IDEMPOTENCY_HOURS`` (``purge``): long enough
for any retry, not as a lasting copy of what was asked. An answer may name a person (an
address, a profile): each is kept under a one-off key (one per request, for all the answers of
a bulk request), deleted with the records, so none stays readable in a copy of the database.
"""

import json
from collections.abc import Callable
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from portal.core.integrations.models.api import IdempotencyRecord
from portal.core.kernel import clock, many, subject_keys
from portal.core.kernel.crypto import keys
from portal.core.kernel.transaction import commit_session
from portal.extensions import db

MAX_KEY = 200


class KeyReused(Exception):
    """The key was first used with another request: a client bug, answered with 409."""


def fingerprint(method: str, path: str, body: bytes) -> str:
    """A keyed digest (HMAC under the hash key) of the request: a plain hash of a body naming
    an address would let anyone with a copy of the database and a list of addresses tell who
    was written about, erased people included."""
    request = method.encode() + b" " + path.encode() + b"\n" + body
    return keys().keyed_digest(b"idempotency\n" + request)


def purge(now=None) -> int:
    """Delete the records older than ``IDEMPOTENCY_HOURS``; returns how many went."""
    hours = current_app.config["IDEMPOTENCY_HOURS"]
    cut = (now or clock.now()) - timedelta(hours=hours)
    old = IdempotencyRecord.created_at < cut
    with commit_session():
        refs = set(subject_keys.sealed_refs(db.session, IdempotencyRecord.response, old))
        subject_keys.drop_one_off(db.session, refs)
        return db.session.execute(delete(IdempotencyRecord).where(old)).rowcount


def _stored(client_id: int, key: str, fingerprint_: str) -> tuple[int, dict] | None:
    record = db.session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key
        )
    )
    if record is None:
        return None
    if record.fingerprint != fingerprint_:
        raise KeyReused()
    return record.status, json.loads(record.response)


def once(
    client_id: int,
    key: str | None,
    fingerprint_: str,
    operation: Callable[[], tuple[int, dict]],
) -> tuple[int, dict]:
    """Run ``operation`` (a core change returning status and body) in one transaction.

    With a key: the first call's answer is kept with the change; later calls with the same
    key and request get it back without running ``operation``; raises KeyReused for another
    request under the same key. Errors the operation raises are not kept: a client may fix
    the request and retry with the same key.
    """
    if key is None:
        with commit_session():
            return operation()
    previous = _stored(client_id, key, fingerprint_)
    if previous is not None:
        return previous
    try:
        with commit_session():
            status, body = operation()
            db.session.add(
                IdempotencyRecord(
                    client_id=client_id,
                    key=key,
                    fingerprint=fingerprint_,
                    status=status,
                    response=json.dumps(body),
                    created_at=clock.now(),
                )
            )
            db.session.flush()
    except IntegrityError:
        previous = _stored(client_id, key, fingerprint_)
        if previous is None:
            raise
        return previous
    return status, body


def stored_many(client_id: int, keys: list[str]) -> dict[str, tuple[str, dict]]:
    """The fingerprint and answer kept under each of ``keys`` that has one, in one query."""
    if not keys:
        return {}
    rows = db.session.execute(
        select(IdempotencyRecord.key, IdempotencyRecord.fingerprint, IdempotencyRecord.response)
        .where(IdempotencyRecord.client_id == client_id)
        .where(many.among(IdempotencyRecord.key, keys))
    )
    return {key: (fingerprint_, json.loads(response)) for key, fingerprint_, response in rows}


def keep_many(client_id: int, answers: list[tuple[str, str, int, dict]]) -> None:
    """Keep (key, fingerprint, status, answer) for each write of a bulk request, in the
    caller's transaction: two requests racing with one key meet at the unique constraint
    (an IntegrityError at the commit; the caller reads the winner's answer then)."""
    if not answers:
        return
    now = clock.now()
    ref = subject_keys.new_key(db.session, one_off=True)  # one for the request's answers
    db.session.execute(
        IdempotencyRecord.__table__.insert(),
        [
            {
                "client_id": client_id,
                "key": key,
                "fingerprint": fingerprint_,
                "status": status,
                "response": subject_keys.seal(ref, json.dumps(answer)),
                "created_at": now,
            }
            for key, fingerprint_, status, answer in answers
        ],
    )
