"""One order of locks, one effect per intent: what meets on PostgreSQL, from several servers.

Each race holds one side just after it took the person's lock for the ledger
(``ledger._heads``), starts the other side, waits until that one waits for a lock (pg_locks)
or is done, and then lets the first go on. Taking a person's lock after the group's, as four
paths once did, deadlocks there and PostgreSQL fails one side; deciding before the person's
lock is held acts twice.
"""

import io
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from portal import create_app
from portal.core.consent import imports, ledger, preferences, signup, topics
from portal.core.consent.models import CONFIRMED, GRANT, WITHDRAWAL, LedgerEntry, SignupRequest
from portal.core.consent.signup import latest_text
from portal.core.console.models import AdminAccount
from portal.core.integrations import clients
from portal.core.integrations.models.api import SCOPES
from portal.core.kernel import clock, jobs
from portal.core.kernel.models.group import Brand
from portal.core.kernel.models.job import Job
from portal.core.lifecycle import answers, run
from portal.core.lifecycle.models import LifecycleNotice
from portal.core.mail import address_requests
from portal.core.people import subjects
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests import actions
from tests.actions import csrf_token, deliver, path_of
from tests.api.conftest import capture
from tests.factories import ORIGIN, START, brand, make_admin, member, topic


@pytest.fixture(autouse=True)
def postgresql_only(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("several servers share PostgreSQL; SQLite serves one process")


def _form_of(client, path: str) -> str:
    """A page as one browser sees it (an app context of its own: Flask-WTF keeps the form
    token of the context, which the tests' shared context would hand to every browser)."""
    with client.application.app_context():
        return client.get(path).get_data(as_text=True)


def _rows(subject_id: int, action: str) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(LedgerEntry)
        .where(LedgerEntry.subject_id == subject_id, LedgerEntry.action == action)
    )


def _held_at_ledger(app, monkeypatch, first, *others):
    return actions.held_at(app, monkeypatch, ledger, "_heads", first, *others)


def _change(subject_id: int, key: str, wanted: bool):
    def work():
        subject = db.session.get(Subject, subject_id)
        change = preferences.Change(topic(key).id, "email", wanted=wanted, shown=not wanted)
        return preferences.apply(subject, [change], {}, "en", ORIGIN)

    return work


def _join(email: str, key: str = "news"):
    camille = brand("camille")
    topic_ids, text_id = [topic(key).id], latest_text(camille).id

    def work():
        signup.sign_up(
            db.session.get(type(camille), camille.id), email, topic_ids, text_id, "en", ORIGIN
        )
        return address_requests.decide_all()  # the worker decides what the request calls for

    return work


def test_four_confirm_posts_on_one_link_write_one_confirmed_row(app, demo, smtp, monkeypatch):
    clients = [app.test_client() for _ in range(4)]
    actions.sign_up(clients[0], "four@example.com", topics=[topic("news").id])
    deliver()
    link = path_of(actions.confirmation_link(smtp.to("four@example.com")[-1]))
    forms = [{"csrf_token": csrf_token(_form_of(c, link))} for c in clients]
    posts = [lambda c=c, f=f: c.post(link, data=f) for c, f in zip(clients, forms, strict=True)]

    answers_, errors = _held_at_ledger(app, monkeypatch, *posts)
    assert errors == []
    assert sorted(answer.status_code for answer in answers_) == [200] * 4
    subject = subjects.find(demo.id, "four@example.com")
    assert _rows(subject.id, CONFIRMED) == 1


def test_a_double_clicked_sign_up_queues_one_confirmation_mail(app, demo, smtp, monkeypatch):
    clients = [app.test_client() for _ in range(2)]
    pages = [_form_of(c, "/luxe/join/camille") for c in clients]
    news = topic("news").id
    text_version = actions.TEXT_VERSION.search(pages[0]).group(1)
    forms = [
        {
            "csrf_token": csrf_token(p),
            "email": "twice@example.com",
            "topics": [news],
            "text_version": text_version,
        }
        for p in pages
    ]
    posts = [
        lambda c=c, f=f: c.post("/luxe/join/camille", data=f)
        for c, f in zip(clients, forms, strict=True)
    ]
    assert [post().status_code for post in posts] == [200, 200]
    decide_one = lambda: address_requests.decide_due(1).decided  # noqa: E731
    # Two workers decide the two requests at once: the second waits for the person's lock.
    decided, errors = _held_at_ledger(app, monkeypatch, decide_one, decide_one)
    assert errors == []
    assert sorted(decided) == [1, 1]
    assert db.session.scalar(select(func.count()).select_from(SignupRequest)) == 1
    deliver()
    assert len(smtp.to("twice@example.com")) == 1


def test_a_confirmation_and_a_centre_change_of_the_same_person_both_happen(
    app, demo, smtp, monkeypatch
):
    person = member("both@example.com", keys=("journal",))
    _join("both@example.com")()
    pending = db.session.scalar(select(SignupRequest))
    confirm = lambda: signup.confirm(demo.id, person.id, pending.id, ORIGIN)  # noqa: E731

    results, errors = _held_at_ledger(app, monkeypatch, confirm, _change(person.id, "events", True))
    assert errors == []
    assert signup.Confirmation.CONFIRMED in results
    assert (_rows(person.id, CONFIRMED), _rows(person.id, GRANT)) == (1, 2)


def test_keep_my_subscriptions_and_a_centre_change_of_the_same_person_both_happen(
    app, demo, smtp, monkeypatch
):
    clock.freeze(START)
    person = member("kept@example.com", keys=("news", "journal"))
    clock.freeze(START + timedelta(days=550))
    run.run(demo)
    notice = db.session.scalar(
        select(LifecycleNotice).where(LifecycleNotice.rule == "repermission")
    )
    payload = {"g": demo.id, "n": notice.id}
    # The centre withdraws the consent "keep" confirms second: each then holds what the other needs.
    last = max((topic("news"), topic("journal")), key=lambda t: t.id)
    keep = lambda: answers.keep(demo.id, payload, ORIGIN)  # noqa: E731

    results, errors = _held_at_ledger(app, monkeypatch, keep, _change(person.id, last.key, False))
    assert errors == []
    assert answers.Answer.DONE in results
    assert (_rows(person.id, CONFIRMED), _rows(person.id, WITHDRAWAL)) == (2, 1)


def test_raising_the_policy_and_a_lifecycle_run_over_its_subscribers_both_finish(
    app, demo, smtp, monkeypatch
):
    clock.freeze(START)
    member("early@example.com", keys=("news",))
    member("later@example.com", keys=("news",))
    clock.freeze(START + timedelta(days=550))
    run.run(demo)  # asked to keep their subscriptions; unanswered, they lapse 30 days later
    clock.freeze(START + timedelta(days=581))
    owner_id, camille_id = make_admin(demo, "owner").id, brand("camille").id

    def raise_it():  # the request starts the job; the worker's batch asks them
        owner, camille = db.session.get(AdminAccount, owner_id), db.session.get(Brand, camille_id)
        job_id = topics.raise_policy(owner, camille, "2027-01", ask_again=True).id
        jobs.run_all()
        return db.session.get(Job, job_id).done

    lapse = lambda: run.run(demo)  # noqa: E731

    results, errors = _held_at_ledger(app, monkeypatch, raise_it, lapse)
    assert errors == []
    assert 2 in results  # both were asked; the run passed over the people it found busy


def test_an_import_asking_to_reconfirm_does_not_fail_on_a_sign_up_of_the_same_person(
    app, demo, smtp, monkeypatch
):
    member("same@example.com", keys=("journal",))
    camille = brand("camille")
    plan = imports.plan(
        camille,
        io.StringIO("email,topic\nsame@example.com,news\nother@example.com,news\n"),
        reconfirm=True,
    )
    reconfirm = lambda: imports.run(None, plan, "again.csv")  # noqa: E731

    results, errors = _held_at_ledger(app, monkeypatch, _join("same@example.com"), reconfirm)
    assert errors == []
    outcome = next(r for r in results if isinstance(r, imports.Outcome))
    assert outcome.asked == 2


def test_a_lock_held_too_long_gets_a_try_again_page_not_a_hung_worker(
    app, database_url, demo, smtp
):
    person = member("stuck@example.com", keys=("journal",))
    impatient = create_app({**app.config, "DATABASE_LOCK_TIMEOUT_MS": 200})
    client = impatient.test_client()
    actions.sign_up(client, "stuck@example.com", topics=[topic("news").id])
    deliver()
    link = path_of(actions.confirmation_link(smtp.to("stuck@example.com")[-1]))
    form = {"csrf_token": csrf_token(client.get(link).get_data(as_text=True))}

    _, key = clients.create("luxe", "CRM", list(SCOPES), None, False)
    holder = db.engine.connect()
    holder.execute(text("SELECT id FROM subject WHERE id = :id FOR UPDATE"), {"id": person.id})
    release = threading.Timer(15, holder.rollback)  # so that a portal without a timeout fails
    release.start()
    withdrawal = capture(
        email="stuck@example.com",
        action="withdraw",
        channel="email",
        topic="journal",
        text_version=None,
        captured_at=clock.now().isoformat(),  # after the group was set up and the sign-up
    )
    try:
        answer = client.post(link, data=form)
        problem = client.post(
            "/api/v1/consents", json=withdrawal, headers={"Authorization": f"Bearer {key}"}
        )
    finally:
        release.cancel()
        holder.rollback()
        holder.close()
        with impatient.app_context():  # its own engine: closed here, not by the GC mid-suite
            db.session.remove()
            db.engine.dispose()
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert "Nothing was changed: please try again in a moment." in answer.get_data(as_text=True)
    assert problem.status_code == 503
    assert problem.mimetype == "application/problem+json"
    assert problem.headers["Retry-After"] == "5"
    assert problem.json["detail"] == "Nothing was changed. Please try again."
    with impatient.app_context():
        db.engine.dispose()
    assert db.session.scalar(select(SignupRequest.confirmed_at)) is None  # nothing confirmed
    assert _rows(person.id, CONFIRMED) == 0
