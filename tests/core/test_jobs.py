"""Jobs: long work done by the worker in batches, with leases that expire and retries."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.core.consent import topics
from portal.core.console.models import AdminAccount, AuditEntry
from portal.core.kernel import clock, jobs
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.models.group import Brand, Topic
from portal.core.kernel.models.job import DONE, FAILED, Job, JobFailure
from portal.core.kernel.transaction import commit_session
from portal.core.mail import topic_mail
from portal.core.mail.models import OutboxMessage
from portal.extensions import db
from tests import actions
from tests.factories import brand, count, make_admin, member, topic

BOOM = "test.boom"
calls = []


@jobs.handler(BOOM)
def _boom(job, params, limit):
    """A job of ``params["items"]`` items; item "bad" fails alone, "crash" fails the batch."""
    calls.append(job.cursor)
    start = int(job.cursor or 0)
    items = params["items"][start : start + limit]
    if "crash" in items:
        raise RuntimeError("the database went away")
    for item in items:
        if item.startswith("crash:"):
            raise RuntimeError(item.removeprefix("crash:"))
    batch = jobs.Batch(
        cursor=str(start + len(items)), finished=start + limit >= len(params["items"])
    )
    for number, item in enumerate(items, start=start + 1):
        with jobs.item(batch, f"line {number}"):
            if item == "bad":
                raise ValueError("no")
    return batch


def _job(demo, items) -> int:
    with commit_session():
        return jobs.start(BOOM, demo.id, "test", len(items), params={"items": items}).id


def _reload(job_id) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def test_asking_again_runs_in_batches_of_the_configured_size(app, demo):
    app.config["JOB_BATCH_SIZE"] = 2
    for n in range(5):
        member(f"fan{n}@example.com")
    owner = make_admin(demo, "owner", "boss@luxe.example")
    job = topics.raise_policy(owner, brand("camille"), "2026-09", ask_again=True)
    assert job.total == 5 and count(OutboxMessage) == 0  # nothing is mailed by the request
    assert jobs.work_once("w1")
    first = _reload(job.id)
    assert (first.done, first.state, first.cursor) == (2, "running", str(first.cursor))
    assert count(OutboxMessage) == 2  # one batch, one transaction
    assert jobs.run_all("w1") == 2
    done = _reload(job.id)
    assert (done.state, done.done, done.failed) == (DONE, 5, 0) and done.finished_at
    reconsent = select(OutboxMessage).where(OutboxMessage.kind == "reconsent")
    assert len(db.session.scalars(reconsent).all()) == 5
    assert done.lease_owner is None and not jobs.work_once("w1")


def test_a_dead_workers_lease_expires_and_another_takes_over(app, demo):
    app.config["JOB_BATCH_SIZE"] = 1
    job_id = _job(demo, ["a", "b"])
    assert jobs.claim("dead") == job_id  # the worker dies here, holding the lease
    assert jobs.claim("alive") is None
    clock.freeze(clock.now() + timedelta(seconds=app.config["JOB_LEASE_SECONDS"] + 1))
    assert jobs.claim("alive") == job_id
    assert jobs.run_batch(job_id, "dead") is False  # it woke up: its lease is gone
    assert _reload(job_id).done == 0
    assert jobs.run_batch(job_id, "alive") is True
    assert jobs.run_batch(job_id, "alive") is False  # finished
    assert (_reload(job_id).state, _reload(job_id).done) == (DONE, 2)


def test_an_item_that_fails_is_recorded_and_the_job_goes_on(app, demo):
    job_id = _job(demo, ["a", "bad", "c"])
    jobs.run_all()
    job = _reload(job_id)
    assert (job.state, job.done, job.failed) == (DONE, 2, 1)
    [failure] = db.session.scalars(select(JobFailure)).all()
    assert (failure.item, failure.reason) == ("line 2", "error: ValueError")


def test_a_batch_that_keeps_failing_stops_the_job_after_the_last_attempt(app, demo):
    app.config["JOB_MAX_ATTEMPTS"] = 3
    app.config["JOB_BATCH_SIZE"] = 1
    job_id = _job(demo, ["a", "crash", "c"])
    calls.clear()
    for _ in range(10):
        jobs.work_once("w")
    job = _reload(job_id)
    assert (job.state, job.done, job.attempts) == (FAILED, 1, 3)
    assert "the database went away" in job.last_error
    assert calls == ["", "1", "1", "1"]  # the failing batch was tried three times, no more


def test_held_jobs_wait_for_release_and_expire(app, demo):
    with commit_session():
        held = jobs.start(BOOM, demo.id, "t", 1, params={"items": ["a"]}, held=True).id
    assert not jobs.work_once()
    clock.freeze(clock.now() + timedelta(hours=app.config["IMPORT_HOLD_HOURS"] + 1))
    assert jobs.drop_expired_holds() == 1 and _reload(held) is None


def test_the_error_kept_on_a_job_quotes_no_address_nor_parameters(app, demo):
    app.config["JOB_MAX_ATTEMPTS"] = 1
    job_id = _job(demo, ["crash:INSERT failed for ann@example.com [parameters: {'x': 1}]"])
    jobs.run_all()
    job = _reload(job_id)
    assert job.state == FAILED
    assert job.last_error == "RuntimeError: INSERT failed for <address>"


def _postgresql_only():
    if db.engine.dialect.name != "postgresql":
        pytest.skip("several servers share PostgreSQL; SQLite serves one process")


def test_a_topic_mail_confirmed_twice_at_once_starts_one_job(app, demo, monkeypatch):
    _postgresql_only()
    member("reader@example.com", keys=("news",))
    owner, news, key = make_admin(demo, "owner"), topic("news"), jobs.new_key()
    topic_id, owner_id = news.id, owner.id

    def confirm():  # each thread is one server handling the same form's post
        again = db.session.get(Topic, topic_id)
        admin = db.session.get(AdminAccount, owner_id)
        return topic_mail.send_topic(again, "Winter", "It is here.", admin, key=key).id

    results, errors = actions.side_by_side(app, monkeypatch, jobs, "started")(confirm)
    assert errors == [] and len(results) == 2 and results[0] == results[1]
    assert count(Job) == 1
    assert count(AuditEntry, AuditEntry.action == "topic.mail") == 1


def test_a_policy_raised_twice_at_once_is_raised_once(app, demo, monkeypatch):
    _postgresql_only()
    member("reader@example.com", keys=("news",))
    owner_id, camille_id = make_admin(demo, "owner").id, brand("camille").id

    def raise_it():
        owner = db.session.get(AdminAccount, owner_id)
        camille = db.session.get(Brand, camille_id)
        return topics.raise_policy(owner, camille, "2027-01", ask_again=True).id

    results, errors = actions.side_by_side(app, monkeypatch, topics, "check_version")(raise_it)
    assert len(results) == 1 and count(Job) == 1
    [refused] = errors
    assert isinstance(refused, InvalidInput) and "already the current version" in str(
        refused.message
    )
    assert count(AuditEntry, AuditEntry.action == "brand.policy_version") == 1
