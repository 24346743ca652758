"""The mail outbox: queue inside a change's transaction, send later from a worker.

Mail is never sent inside a web request: the request only writes a row. ``send_due`` claims due
rows with a lease (and SKIP LOCKED on PostgreSQL) so that two workers never take the same row,
marks a row sent only once the SMTP server has accepted it, and on failure keeps the row and
retries with exponential back-off. No message is lost: after the last attempt a row is kept as
failed, for ``flask outbox retry``.
"""

import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import delete, func, select, text, update

from portal.core.kernel import clock, leases, partitions, subject_keys
from portal.core.kernel.leases import Pass
from portal.core.kernel.transaction import commit_session
from portal.core.mail import address_requests, envelope
from portal.core.mail.models import FAILED, QUEUED, SENT, OutboxMessage
from portal.extensions import db

log = logging.getLogger(__name__)
_ADDRESS = re.compile(r"[^\s<>\"']+@[^\s<>\"']+")


def queue(
    group_id: int, subject_id: int | None, kind: str, discard_when_done: bool = False, **content
) -> OutboxMessage:
    """Add a message to the outbox in the caller's transaction.

    ``content``: to, sender (name, address), subject, text, html, and optional reply_to,
    language (for Content-Language) and headers (a dict of extra header lines).
    ``discard_when_done`` deletes the row once it is sent or has finally failed (the last mail
    to an erased person).
    """
    row = OutboxMessage(
        group_id=group_id,
        subject_id=subject_id,
        kind=kind,
        content=json.dumps(content),
        status=QUEUED,
        next_attempt_at=clock.now(),
        created_at=clock.now(),
        discard_when_done=discard_when_done,
    )
    db.session.add(row)
    return row


def _claim(owner: str, limit: int) -> list[OutboxMessage]:
    keys = leases.claim(OutboxMessage, owner, limit)
    if not keys:
        return []
    rows = db.session.scalars(select(OutboxMessage).where(*partitions.named(OutboxMessage, keys)))
    return sorted(rows, key=lambda row: row.id)


@dataclass(frozen=True)
class _Claimed:
    """What recording a claimed row's fate needs, read once: each fate is its own commit,
    which expires the ORM rows, and reading them again cost a query per mail. Its
    ``created_at`` names its day's partition on PostgreSQL, with the id."""

    id: int
    created_at: datetime
    attempts: int
    discard_when_done: bool
    sender: list


def _deliver(pairs: list[tuple[_Claimed, dict]], record, stopping) -> None:
    """Hand each message to the transport and ``record(row, error or None)`` its fate; none
    more once ``stopping()`` (their leases are the caller's to hand back)."""
    pending = list(pairs)
    if current_app.config["MAIL_TRANSPORT"] == "mailbox":
        folder = Path(current_app.config["MAILBOX_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        for row, content in pending:
            if stopping():
                return
            try:
                message, _, _ = envelope.build(content, row.id, smtputf8=True)
            except envelope.Unsendable as error:
                record(row, error)
                continue
            (folder / f"{clock.now():%Y%m%dT%H%M%S%f}-{row.id}.eml").write_bytes(message.as_bytes())
            record(row, None)
        return
    try:
        with envelope.connect() as connection:
            while pending and not stopping():
                row, content = pending[0]
                try:
                    envelope.send(connection.host, content, row.id)
                except Exception as error:  # noqa: BLE001 - any refusal keeps the row for a retry
                    record(row, error)
                else:
                    record(row, None)
                pending.pop(0)
    except Exception as error:  # noqa: BLE001 - server unreachable: the rest wait for a retry
        for row, _ in pending:
            record(row, error)


def scrub(text: str) -> str:
    """Error text as kept and logged: SMTP refusals often quote the recipient's address."""
    return _ADDRESS.sub("<address>", text)[:1000]


def send_due(
    limit: int = 100, owner: str | None = None, stopping: Callable[[], bool] = lambda: False
) -> Pass:
    """Decide one batch of address requests, then send one batch of due messages (the mail
    just decided on among them); returns what happened. Once ``stopping()`` no further message
    is sent; those claimed and not sent stay leased to ``owner`` for it to release."""
    owner = owner or uuid.uuid4().hex
    result = address_requests.decide_due(limit, owner)
    rows = _claim(owner, limit)

    def record(row: _Claimed, error: Exception | None) -> None:
        now = clock.now()
        mine = (
            OutboxMessage.id == row.id,
            OutboxMessage.created_at == row.created_at,  # its day's partition only
            OutboxMessage.lease_owner == owner,
        )
        if error is None:
            values = {
                "status": SENT,
                "sent_at": now,
                "lease_owner": None,
                "lease_until": None,
                "attempts": row.attempts + 1,
                "last_error": None,
                # Once delivered, the rendered mail (address, words, live links) is not kept:
                # only who sent it, for the person's export ("mails sent to you").
                "content": json.dumps({"sender": row.sender}),
            }
            result.sent += 1
        else:
            attempts = row.attempts + 1
            values = result.failed_attempt(attempts, scrub(f"{type(error).__name__}: {error}"), now)
            log.warning(
                "outbox message %s attempt %s failed: %s", row.id, attempts, values["last_error"]
            )
        if error is None or values["status"] == FAILED and row.discard_when_done:
            _drop_keys(*mine)  # its content goes: a one-off key (a mail to no person) with it
        if row.discard_when_done and values["status"] in (SENT, FAILED):
            db.session.execute(delete(OutboxMessage).where(*mine))
        else:
            db.session.execute(update(OutboxMessage).where(*mine).values(**values))
        db.session.commit()

    claimed = [
        (
            _Claimed(r.id, r.created_at, r.attempts, r.discard_when_done, content.get("sender")),
            content,
        )
        for r, content in ((r, json.loads(r.content)) for r in rows)
    ]
    # A message is started only while the batch's lease still covers a whole send (connect
    # and each command may each take MAIL_TIMEOUT_SECONDS): past that another worker could
    # take the row and send it a second time. The rest go back to the queue at once.
    config = current_app.config
    covered_until = clock.now() + timedelta(
        seconds=config["OUTBOX_LEASE_SECONDS"] - 6 * config["MAIL_TIMEOUT_SECONDS"]
    )
    handled: set[int] = set()

    def recorded(row: _Claimed, error: Exception | None) -> None:
        handled.add(row.id)
        record(row, error)

    def stop_starting() -> bool:
        return stopping() or (bool(handled) and clock.now() >= covered_until)

    _deliver(claimed, recorded, stop_starting)
    unsent = [(row.id, row.created_at) for row, _ in claimed if row.id not in handled]
    if unsent and not stopping():  # a stopping worker hands back everything it holds itself
        leases.release(OutboxMessage, owner, unsent)
    return result


def send_all(batch: int = 100) -> Pass:
    """Send everything due now, batch after batch; what ``flask outbox send`` does."""
    return leases.drain(send_due, batch)


def retry_failed() -> int:
    """Give failed messages a fresh set of attempts; returns how many."""
    count = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == FAILED)
        .values(status=QUEUED, attempts=0, next_attempt_at=clock.now())
    ).rowcount
    db.session.commit()
    return count


def _cut(now):
    return (now or clock.now()) - timedelta(days=current_app.config["OUTBOX_KEEP_DAYS"])


def purge(now=None, batch: int = 10_000) -> int:
    """Delete up to ``batch`` mails sent or given up more than OUTBOX_KEEP_DAYS ago (oldest
    first), so the table holds the backlog and a window of history, not every mail ever sent;
    returns how many went. Bounded, so a run never holds a long transaction: each
    ``flask lifecycle run`` takes the next batch. On PostgreSQL, where ``rotate`` drops whole
    days, the cut is the start of its day: no row is deleted alone from a day that goes whole."""
    cut = _cut(now)
    if partitions.is_postgresql(db.session.get_bind()):
        cut = partitions.day(cut)
    old = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status.in_((SENT, FAILED)),
            func.coalesce(OutboxMessage.sent_at, OutboxMessage.created_at) < cut,
        )
        .order_by(OutboxMessage.id)
        .limit(batch)
    )
    with commit_session():
        ids = list(db.session.scalars(old))
        if not ids:
            return 0
        _drop_keys(OutboxMessage.id.in_(ids))
        return db.session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids))).rowcount


def rotate(now=None, days: int = 7) -> tuple[int, int]:
    """PostgreSQL: drop whole days of mail (``kernel.partitions``) created before the start of
    the day OUTBOX_KEEP_DAYS ago, at most ``days`` a run, before ``purge``. A day still holding
    a mail that waits, or one sent less than OUTBOX_KEEP_DAYS ago, is kept back (``purge``
    takes its other rows). (mails dropped, days kept back); nothing on SQLite."""
    if not partitions.is_postgresql(db.session.get_bind()):
        return 0, 0
    cut = _cut(now)
    old = partitions.expired(db.session.connection(), "outbox_message", partitions.day(cut))
    db.session.rollback()
    dropped = kept = 0
    for name, start, end in old[:days]:
        count = partitions.step(
            lambda connection, name=name, start=start, end=end: _drop_day(
                connection, name, start, end, cut
            )
        )
        dropped += count or 0
        kept += count is None
    return dropped, kept


def _drop_day(connection, name: str, start, end, cut) -> int | None:
    waiting = text(f"SELECT 1 FROM {name} WHERE status = :queued OR sent_at >= :cut LIMIT 1")
    if connection.scalar(waiting, {"queued": QUEUED, "cut": cut}):
        return None
    day = [OutboxMessage.created_at < end]
    if start is not None:
        day.append(OutboxMessage.created_at >= start)
    _drop_keys(*day)
    count = connection.scalar(text(f"SELECT count(*) FROM {name}"))
    partitions.drop(connection, "outbox_message", name)
    return count


def _drop_keys(*where) -> None:
    """Mails to no person are under one-off keys: dropped with their content."""
    where = (*where, OutboxMessage.subject_id.is_(None))  # a person's own key is not one-off
    refs = subject_keys.sealed_refs(db.session, OutboxMessage.content, *where)
    subject_keys.drop_one_off(db.session, refs)


def backlog() -> int:
    return db.session.scalar(
        select(db.func.count()).select_from(OutboxMessage).where(OutboxMessage.status == QUEUED)
    )
