"""Workers say they are alive: one row per worker, written on every pass of its loop, so the
console and ``flask doctor`` can tell when none has been seen for WORKER_STALE_SECONDS."""

import socket
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update

from portal.core.kernel import clock
from portal.core.kernel.models.job import WorkerHeartbeat
from portal.extensions import db


def beat(worker: str, kind: str = "mail") -> None:
    """Record that ``worker`` (a ``kind`` of loop) is alive now (insert once, then update);
    commits."""
    now = clock.now()
    seen = db.session.execute(
        update(WorkerHeartbeat).where(WorkerHeartbeat.worker == worker).values(seen_at=now)
    ).rowcount
    if not seen:
        db.session.add(
            WorkerHeartbeat(
                worker=worker,
                kind=kind,
                host=socket.gethostname()[:200],
                started_at=now,
                seen_at=now,
            )
        )
    db.session.commit()


def stopped(worker: str) -> None:
    """A worker that stops cleanly removes its row (the others still count)."""
    db.session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker == worker))
    db.session.commit()


def last_seen(kind: str = "mail") -> datetime | None:
    """When any worker of ``kind`` was last seen alive, or None if none ever was (or all
    stopped)."""
    return db.session.scalar(
        select(func.max(WorkerHeartbeat.seen_at)).where(WorkerHeartbeat.kind == kind)
    )


def stale(seen: datetime | None) -> bool:
    limit = timedelta(seconds=current_app.config["WORKER_STALE_SECONDS"])
    return seen is None or clock.now() - seen > limit
