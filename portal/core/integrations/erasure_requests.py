"""Erasure requests to recipients, their answers, re-sends and the record an auditor reads.

When a person is erased, every recipient that could read them (``recipients.reading``) is
asked to erase its copies too (GDPR Art. 17(2) and 19: the controller informs each recipient,
and must be able to show it did, Art. 5(2)). A request is one ``erasure.requested`` event for
that client alone, in the feed and by webhook, naming only the former subject id the client
already held. The recipient answers once, ``done`` or ``not_held``, with a reference of its
own; the same answer again is the same answer, another one is refused.

Requests still unanswered ERASURE_ANSWER_HOURS after they were last sent are sent again by
``resend_due`` (``flask erasures resend``, also run by ``flask lifecycle run``) and counted as
overdue on the console's dashboard until answered.
"""

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from portal.core.console.audit import safe_cell
from portal.core.integrations import events
from portal.core.integrations.models.api import ApiClient
from portal.core.integrations.models.event import ERASURE_REQUESTED
from portal.core.integrations.models.recipients import ANSWERS, ErasureRequest
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidInput, NotFound, Refused
from portal.core.kernel.transaction import commit_session
from portal.extensions import db

MAX_REFERENCE = 200


def answer_window() -> timedelta:
    return timedelta(hours=current_app.config["ERASURE_ANSWER_HOURS"])


def ask(erasure_id: str, group_id: int, subject_ref: int, clients: list[ApiClient]) -> int:
    """Ask each of ``clients`` to erase the person, in the erasure's own transaction (so the
    requests exist exactly when the erasure does). Returns how many were asked."""
    now = clock.now()
    for client in clients:
        request = ErasureRequest(
            id=str(uuid.uuid4()),
            erasure_id=erasure_id,
            group_id=group_id,
            client_id=client.id,
            client_name=client.name,
            terms_version=client.terms_version,
            subject_ref=subject_ref,
            requested_at=now,
            last_sent_at=now,
            sends=1,
        )
        db.session.add(request)
        db.session.flush()
        _send(request)
    return len(clients)


def _send(request: ErasureRequest) -> None:
    events.emit(
        request.group_id,
        ERASURE_REQUESTED,
        {
            "erasure_request_id": request.id,
            "erasure_id": request.erasure_id,
            "subject_id": request.subject_ref,
            "requested_at": request.requested_at.isoformat(),
            "attempt": request.sends,
        },
        client_id=request.client_id,
    )


def describe(request: ErasureRequest) -> dict:
    """A request as its recipient sees it through the API."""
    return {
        "id": request.id,
        "erasure_id": request.erasure_id,
        "subject_id": request.subject_ref,
        "requested_at": request.requested_at.isoformat(),
        "attempts": request.sends,
        "answered_at": request.answered_at.isoformat() if request.answered_at else None,
        "answer": request.answer,
        "reference": request.reference,
    }


def acknowledge(client: ApiClient, request_id: str, answer: str, reference: str | None) -> dict:
    """Record ``client``'s answer to its request ``request_id``, in the caller's transaction.

    NotFound for a request that is not this client's (another client's, group's or brand's
    request is indistinguishable from none). The same answer again returns the request as
    first answered; another answer raises Refused: an answer, once given, is the record.
    """
    if answer not in ANSWERS:
        raise InvalidInput("answer", "The answer is 'done' or 'not_held'.")
    if reference is not None and not (0 < len(reference) <= MAX_REFERENCE):
        raise InvalidInput("reference", f"A reference has 1 to {MAX_REFERENCE} characters.")
    request = db.session.scalar(
        select(ErasureRequest)
        .where(ErasureRequest.id == request_id, ErasureRequest.client_id == client.id)
        .with_for_update()  # two answers at once: the second waits and sees the first
    )
    if request is None:
        raise NotFound("erasure request")
    if request.answer is None:
        request.answer, request.reference, request.answered_at = answer, reference, clock.now()
        db.session.flush()
    elif request.answer != answer:
        raise Refused(
            "erasure-already-answered",
            f"This erasure request was answered '{request.answer}' already; "
            "an answer cannot be changed.",
        )
    return describe(request)


def resend_due(batch: int | None = None) -> int:
    """Send again, once, every request unanswered for ERASURE_ANSWER_HOURS since it was last
    sent, a batch per transaction; returns how many were sent. Requests of revoked clients
    are not sent (the client reads nothing any more) but stay overdue in the record.
    Safe from several machines at once: rows are claimed FOR UPDATE SKIP LOCKED and the due
    condition is part of the claim."""
    batch = batch or current_app.config["ERASURE_RESEND_BATCH"]
    sent = 0
    while True:
        with commit_session():
            cutoff = clock.now() - answer_window()
            due = list(
                db.session.scalars(
                    select(ErasureRequest)
                    .join(ApiClient, ApiClient.id == ErasureRequest.client_id)
                    .where(
                        ErasureRequest.answered_at.is_(None),
                        ErasureRequest.last_sent_at <= cutoff,
                        ApiClient.revoked_at.is_(None),
                    )
                    .order_by(ErasureRequest.last_sent_at, ErasureRequest.id)
                    .limit(batch)
                    .with_for_update(of=ErasureRequest, skip_locked=True)
                )
            )
            for request in due:
                request.sends += 1
                request.last_sent_at = clock.now()
                db.session.flush()
                _send(request)
        sent += len(due)
        if len(due) < batch:
            return sent


@dataclass(frozen=True)
class Line:
    """One recipient's part of a disposal record, as the console and the CSV show it."""

    request: ErasureRequest
    overdue: bool

    @property
    def status(self) -> str:
        if self.request.answer:
            return self.request.answer
        return "overdue" if self.overdue else "waiting"


def _lines(query, now: datetime) -> list[Line]:
    cutoff = now - answer_window()
    return [
        Line(request, request.answered_at is None and request.requested_at <= cutoff)
        for request in db.session.scalars(query)
    ]


def of_erasure(group_id: int, erasure_id: str) -> list[Line]:
    """Every recipient asked about one erasure, in the order they were asked."""
    query = (
        select(ErasureRequest)
        .where(ErasureRequest.group_id == group_id, ErasureRequest.erasure_id == erasure_id)
        .order_by(ErasureRequest.client_name, ErasureRequest.id)
    )
    return _lines(query, clock.now())


def listing(group_id: int, *, overdue_only: bool = False, limit: int | None = 500) -> list[Line]:
    """Requests of the group, newest first; only the overdue ones when asked."""
    query = select(ErasureRequest).where(ErasureRequest.group_id == group_id)
    if overdue_only:
        query = query.where(
            ErasureRequest.answered_at.is_(None),
            ErasureRequest.requested_at <= clock.now() - answer_window(),
        )
    query = query.order_by(ErasureRequest.requested_at.desc(), ErasureRequest.id).limit(limit)
    return _lines(query, clock.now())


def overdue_count(group_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(ErasureRequest)
        .where(
            ErasureRequest.group_id == group_id,
            ErasureRequest.answered_at.is_(None),
            ErasureRequest.requested_at <= clock.now() - answer_window(),
        )
    )


HEADER = [
    "erasure_id",
    "recipient",
    "terms_version",
    "requested_at",
    "sends",
    "last_sent_at",
    "answered_at",
    "answer",
    "reference",
    "status",
]


def as_csv(lines: list[Line]) -> str:
    """The record for an audit: one line per recipient asked, no personal data."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for line in lines:
        r = line.request
        writer.writerow(
            [
                safe_cell(v)
                for v in (
                    r.erasure_id,
                    r.client_name,
                    r.terms_version,
                    r.requested_at.isoformat(),
                    r.sends,
                    r.last_sent_at.isoformat(),
                    r.answered_at.isoformat() if r.answered_at else "",
                    r.answer or "",
                    r.reference or "",
                    line.status,
                )
            ]
        )
    return out.getvalue()


def status_of(group_id: int, erasure_id: str) -> list[dict]:
    """What the erased person may see: each system's name and where its answer stands."""
    return [
        {
            "name": line.request.client_name,
            "requested_at": line.request.requested_at,
            "answered_at": line.request.answered_at,
            "status": line.status,
        }
        for line in of_erasure(group_id, erasure_id)
    ]
