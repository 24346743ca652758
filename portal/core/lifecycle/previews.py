"""The rules page's preview, counted by the worker and stored, never in a request.

``ask(group)`` queues a count (a job of kind ``lifecycle.preview``, unless one is waiting
already) and returns at once; the worker (`flask outbox work`) runs the job: it counts each
rule's people in the job's transaction and stores the counts with the time
(``LifecyclePreview``). ``shown(group)`` reads what is stored. Counting asks every rule's
query of the whole group, so it costs what `flask lifecycle run --dry-run` costs: the worker
pays it, once per request for a fresh count, however many admins look at the page.

Clicks at once queue one count: ``ask`` makes sure the group's row exists (an insert that does
nothing if it does) and locks it before it looks for a waiting count, so a second click waits
for the first's commit and then sees its job.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from portal.core.kernel import clock, jobs
from portal.core.kernel.models.group import SiteGroup
from portal.core.kernel.models.job import QUEUED, RUNNING, Job
from portal.core.kernel.transaction import commit_session
from portal.core.lifecycle import run
from portal.core.lifecycle.models import LifecyclePreview
from portal.extensions import db

PREVIEW = "lifecycle.preview"


@dataclass(frozen=True)
class Shown:
    counts: dict[str, int | None] | None  # None: never counted
    computed_at: datetime | None
    queued: bool  # a fresh count is waiting for the worker


def _row(group_id: int) -> LifecyclePreview | None:
    return db.session.get(LifecyclePreview, group_id, populate_existing=True)


def _waiting(group_id: int) -> bool:
    return (
        db.session.scalar(
            select(Job.id).where(
                Job.group_id == group_id, Job.kind == PREVIEW, Job.state.in_((QUEUED, RUNNING))
            )
        )
        is not None
    )


def shown(group: SiteGroup) -> Shown:
    """What the page shows: the stored counts, when they were made, and whether a fresh count
    is queued. Reads two small rows; counts nothing."""
    row = _row(group.id)
    if row is None:
        return Shown(None, None, _waiting(group.id))
    return Shown(row.counts, row.computed_at, _waiting(group.id))


def _locked_row(group_id: int) -> LifecyclePreview:
    """The group's row, made if missing and locked until the transaction ends. The insert
    does nothing when the row exists, or waits for another transaction inserting it and then
    does nothing: never a unique-key error. On SQLite the insert takes the database's write
    lock, which serialises the rest the same way."""
    dialect = db.engine.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(insert(LifecyclePreview).values(group_id=group_id).on_conflict_do_nothing())
    return db.session.scalars(
        select(LifecyclePreview)
        .where(LifecyclePreview.group_id == group_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def ask(group: SiteGroup, created_by: str) -> bool:
    """Queue a fresh count for the worker (one transaction); False if one is queued already.
    Two asks at once queue one job: the second waits on the group's row, then finds the
    first's job waiting."""
    with commit_session():
        row = _locked_row(group.id)
        if _waiting(group.id):
            return False
        row.asked_at = clock.now()
        jobs.start(PREVIEW, group.id, created_by, total=1)
    return True


@jobs.handler(PREVIEW)
def _count(job: Job, params: dict, limit: int) -> jobs.Batch:
    """The worker's side: count and store, in the job's batch transaction."""
    group = db.session.get(SiteGroup, job.group_id)
    counts = run.count(group)
    row = _row(group.id) or LifecyclePreview(group_id=group.id)
    row.counts, row.computed_at = counts, clock.now()
    db.session.add(row)
    return jobs.Batch(done=1, finished=True)
