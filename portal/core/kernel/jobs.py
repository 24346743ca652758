"""Long work in the background: a job is done by the worker in batches, one transaction each.

A web request or a command only writes a job row (``start``); ``flask outbox work`` claims a
job with a lease (SKIP LOCKED on PostgreSQL; on SQLite the guarded UPDATE does the same) and
runs one batch at a time, so mail and other jobs go on in between and no transaction grows
with the size of the audience. Each batch starts by renewing the lease on the job's row, which
also locks it: a worker whose lease expired (it hung, or died) finds the row no longer its own,
and its batch is rolled back whole; a dead worker's job is taken over once JOB_LEASE_SECONDS
have passed, from the cursor of the last committed batch. A batch that raises is tried again,
up to JOB_MAX_ATTEMPTS times, before the job is marked failed with the error.

Handlers register by kind with ``@handler("kind")``: ``fn(job, params, limit) -> Batch``. They
work through their items by key (``job.cursor``), in the caller's transaction, and say where
the next batch starts. An item that fails on its own is recorded as a ``JobFailure`` (its id
or line number and the reason) and the job goes on.
"""

import json
import logging
import re
import secrets
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update

from portal.core.kernel import clock, subject_keys
from portal.core.kernel.models.job import (
    DONE,
    FAILED,
    HELD,
    QUEUED,
    RUNNING,
    Job,
    JobFailure,
)
from portal.extensions import db

log = logging.getLogger(__name__)
_HANDLERS: dict[str, Callable] = {}


@dataclass
class Batch:
    """What one batch did: items handled, failures (item, reason), the next cursor, and
    whether the job has nothing left."""

    done: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    cursor: str = ""
    finished: bool = False


def handler(kind: str):
    def register(fn):
        _HANDLERS[kind] = fn
        return fn

    return register


def start(
    kind: str,
    group_id: int,
    created_by: str,
    total: int,
    *,
    brand_id=None,
    admin_id=None,
    params: dict | None = None,
    payload: str | None = None,
    held: bool = False,
    key: str | None = None,
) -> Job:
    """Add a job in the caller's transaction (queued, or held until ``release``). With a
    ``key`` (see ``started``), the job is unique for it within the group."""
    job = Job(
        kind=kind,
        group_id=group_id,
        brand_id=brand_id,
        admin_id=admin_id,
        created_by=created_by[:200],
        params=json.dumps(params or {}),
        payload=payload,
        total=total,
        state=HELD if held else QUEUED,
        start_key=key,
        created_at=clock.now(),
    )
    db.session.add(job)
    db.session.flush()
    return job


_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_key() -> str:
    """A one-time key for a form that starts a job (see ``started``)."""
    return secrets.token_urlsafe(24)


def is_key(key: str | None) -> bool:
    return bool(key) and _KEY.fullmatch(key) is not None


def started(group_id: int, key: str | None) -> Job | None:
    """The job a form's one-time ``key`` already started in the group, if any."""
    if not key:
        return None
    return db.session.scalar(select(Job).where(Job.group_id == group_id, Job.start_key == key))


def params_of(job: Job) -> dict:
    return json.loads(job.params or "{}")


@contextmanager
def item(batch: Batch, key: str):
    """Handle one item in a savepoint: if it raises, only its own writes are undone and the
    failure is counted with the error's kind (never its text, which may quote personal data)."""
    savepoint = db.session.begin_nested()
    try:
        yield
    except Exception as error:  # noqa: BLE001 - one bad item must not stop the others
        savepoint.rollback()
        batch.failures.append((key, f"error: {type(error).__name__}"))
    else:
        savepoint.commit()
        batch.done += 1


def _claimable(owner: str, now):
    return (
        Job.state.in_((QUEUED, RUNNING)),
        or_(Job.lease_until.is_(None), Job.lease_until < now, Job.lease_owner == owner),
    )


def claim(owner: str) -> int | None:
    """Lease the oldest job this worker may take (its own first) and commit; its id or None."""
    now = clock.now()
    query = (
        select(Job.id)
        .where(*_claimable(owner, now))
        .order_by((Job.lease_owner == owner).desc(), Job.id)
        .limit(1)
    )
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    job_id = db.session.scalar(query)
    if job_id is None:
        db.session.commit()
        return None
    taken = db.session.execute(
        update(Job)
        .where(Job.id == job_id, *_claimable(owner, now))
        .values(lease_owner=owner, lease_until=now + _lease(), state=RUNNING)
    ).rowcount
    db.session.commit()
    return job_id if taken else None


def _lease() -> timedelta:
    return timedelta(seconds=current_app.config["JOB_LEASE_SECONDS"])


def run_batch(job_id: int, owner: str) -> bool:
    """Run the job's next batch in one transaction; False when the lease was lost (another
    worker has the job) or the job is over."""
    now = clock.now()
    renewed = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner, Job.state == RUNNING)
        .values(lease_until=now + _lease())
    ).rowcount
    if not renewed:
        db.session.rollback()
        return False
    job = db.session.get(Job, job_id)
    db.session.refresh(job)
    fn = _HANDLERS.get(job.kind)
    try:
        if fn is None:
            raise LookupError(f"no handler for jobs of kind {job.kind!r}")
        batch = fn(job, params_of(job), current_app.config["JOB_BATCH_SIZE"])
        for key, reason in batch.failures:
            db.session.add(JobFailure(job_id=job.id, item=key[:64], reason=reason[:300]))
        job.done += batch.done
        job.failed += len(batch.failures)
        job.cursor, job.attempts, job.last_error = batch.cursor, 0, None
        if batch.finished:
            _finish(job, DONE)
        db.session.commit()
    except Exception as error:  # noqa: BLE001 - the batch is undone and tried again
        db.session.rollback()
        _failed_attempt(job_id, owner, _described(error))
        return False
    return not batch.finished


_ADDRESS = re.compile(r"[^\s<>\"'@]+@[^\s<>\"']+")


def _described(error: Exception) -> str:
    """The error as kept on the job and shown to admins: its kind and message, without the
    statement's parameters a database error quotes, nor anything shaped like an address."""
    text = str(error).split("[parameters:", 1)[0].split("\n[SQL:", 1)[0]
    return _ADDRESS.sub("<address>", f"{type(error).__name__}: {text}".strip())[:1000]


def _finish(job: Job, state: str) -> None:
    _drop_files(Job.id == job.id)
    job.state, job.finished_at = state, clock.now()
    job.lease_owner, job.lease_until, job.payload = None, None, None


def _failed_attempt(job_id: int, owner: str, error: str) -> None:
    job = db.session.get(Job, job_id)
    if job is None or job.lease_owner != owner:
        db.session.rollback()
        return
    job.attempts += 1
    job.last_error = error
    log.warning("job %s batch attempt %s failed: %s", job_id, job.attempts, error)
    if job.attempts >= current_app.config["JOB_MAX_ATTEMPTS"]:
        _finish(job, FAILED)
    else:
        job.lease_owner, job.lease_until = None, None  # free for the next pass, any worker
    db.session.commit()


def work_once(owner: str | None = None) -> bool:
    """Claim a job and run one batch of it; True if a batch ran (the worker loop's step)."""
    owner = owner or uuid.uuid4().hex
    job_id = claim(owner)
    if job_id is None:
        return False
    run_batch(job_id, owner)
    return True


def run_all(owner: str | None = None) -> int:
    """Run every job to its end, batch after batch (tests, and ``flask jobs run``); returns
    how many batches ran."""
    owner, batches = owner or uuid.uuid4().hex, 0
    while work_once(owner):
        batches += 1
    return batches


def release_leases(owner: str) -> int:
    """Hand back the jobs ``owner`` holds between batches (a worker stopping), so another
    worker goes on from the last committed batch at once, not after the lease; commits."""
    count = db.session.execute(
        update(Job)
        .where(Job.lease_owner == owner, Job.state == RUNNING)
        .values(lease_owner=None, lease_until=None)
    ).rowcount
    db.session.commit()
    return count


def release(job: Job) -> None:
    """Queue a held job (the admin confirmed it), in the caller's transaction."""
    job.state = QUEUED


def drop_expired_holds() -> int:
    """Delete held jobs (and their files) older than IMPORT_HOLD_HOURS; returns how many."""
    limit = clock.now() - timedelta(hours=current_app.config["IMPORT_HOLD_HOURS"])
    _drop_files(Job.state == HELD, Job.created_at < limit)
    count = db.session.execute(
        delete(Job).where(Job.state == HELD, Job.created_at < limit)
    ).rowcount
    db.session.commit()
    return count


def _drop_files(*where) -> None:
    """The files of these jobs are about to go: their one-off keys go with them, so no copy
    of a file (a dead row version, a backup) stays readable."""
    subject_keys.drop_one_off(db.session, subject_keys.sealed_refs(db.session, Job.payload, *where))


def failures(job: Job, limit: int = 200) -> list[JobFailure]:
    return list(
        db.session.scalars(
            select(JobFailure)
            .where(JobFailure.job_id == job.id)
            .order_by(JobFailure.id)
            .limit(limit)
        )
    )


def recent(group_id: int, limit: int = 20) -> list[Job]:
    return list(
        db.session.scalars(
            select(Job)
            .where(Job.group_id == group_id, Job.state != HELD)
            .order_by(Job.id.desc())
            .limit(limit)
        )
    )
