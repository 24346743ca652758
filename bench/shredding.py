"""What per-person keys (crypto-shredding) cost the preference centre and the API lookup.

Two people alike in every way (7 brands x 6 topics x 3 channels, a profile), one under a key
of their own, one under the data key alone (as before per-person keys); their centre and
their consents through the API (GET /subjects/<id>/consents) are requested in turn, so load on
the machine falls on both alike. Goal: per-person keys cost no more than 10 % (a key read once
per process is then cached). The cold figure forgets the cached key before every request: the
first request after a start, the worst case.

The change feed reads a client's external ids beside its events: they are under each person's
key now (decrypted per event), where they were in clear before. The feed figure reads 10,000
events of 1,000 people with an external id each, with the ids sealed and with them in clear
(as written before the upgrade), in turn.

On PostgreSQL (a scratch database for the data and one for the key store, as in production);
``BENCH_SHREDDING_SQLITE=1`` runs it on SQLite files instead.
"""

import os
import statistics
import tempfile
import time
from datetime import date

from sqlalchemy import LargeBinary, select, type_coerce, update

from bench.common import Figure, scratch_postgres, sign_in_fully

ROUNDS = 300
TARGET = 1.10
FEED_PEOPLE, FEED_EVENTS_EACH = 1_000, 10


def _setup():
    from flask_migrate import upgrade

    from portal.core.integrations import clients
    from portal.core.integrations.models.api import SCOPES
    from portal.core.kernel.crypto import keys
    from portal.core.kernel.transaction import commit_session
    from portal.core.people import profile
    from portal.core.people.models.profile import ProfileField
    from portal.core.people.models.subject import Subject
    from portal.extensions import db
    from tests.factories import PARIS, sized_group

    upgrade()
    people = {}
    for slug in ("keyed", "plain"):
        subject = sized_group(slug, 7, 6)
        with commit_session():
            profile.set_field(subject, profile.POSTAL, PARIS, actor="subject")
            profile.set_field(subject, "first_name", "Camille", actor="subject")
        _, key = clients.create(
            slug, "CRM", list(SCOPES), None, False, terms=("Terms.", date(2025, 1, 15))
        )
        people[slug] = (subject.id, subject.group_id, key)
    # "plain": everything under the data key, as the portal wrote it before per-person keys.
    plain_id = people["plain"][0]
    data_key = keys()
    subject = db.session.get(Subject, plain_id)
    db.session.execute(
        update(Subject)
        .where(Subject.id == plain_id)
        .values(key_ref=None, email=type_coerce(data_key.encrypt(subject.email), LargeBinary))
    )
    for row in db.session.scalars(select(ProfileField).where(ProfileField.subject_id == plain_id)):
        db.session.execute(
            update(ProfileField)
            .where(ProfileField.id == row.id)
            .values(value=type_coerce(data_key.encrypt(row.value), LargeBinary))
        )
    db.session.commit()
    return people


def _feed_setup(group_id: int):
    """1,000 people of the group, each with an external id of the client and 10 events."""
    from sqlalchemy import insert

    from portal.core.integrations.models.api import ApiClient, ExternalId
    from portal.core.integrations.models.event import CONSENT_CHANGED, Event
    from portal.core.kernel import clock
    from portal.core.kernel.crypto import keys
    from portal.core.kernel.models.group import SiteGroup
    from portal.core.people.models.subject import Subject
    from portal.extensions import db

    client = db.session.scalar(select(ApiClient).where(ApiClient.group_id == group_id))
    now = clock.now()
    people = [
        Subject(
            group_id=group_id,
            email_hash=keys().keyed_hash(f"{group_id}:feed{n}@bench.example"),
            email=f"feed{n}@bench.example",
            status="active",
        )
        for n in range(FEED_PEOPLE)
    ]
    db.session.add_all(people)
    db.session.flush()
    db.session.add_all(
        ExternalId(
            client_id=client.id,
            subject_id=person.id,
            value_hash=keys().keyed_hash(f"external-id:{client.id}:CRM-{person.id}"),
            sealed=f"CRM-{person.id}",
            created_at=now,
        )
        for person in people
    )
    start = db.session.scalar(select(SiteGroup.event_seq).where(SiteGroup.id == group_id))
    rows = [
        {
            "group_id": group_id,
            "seq": start + 1 + n,
            "type": CONSENT_CHANGED,
            "subject_id": people[n % FEED_PEOPLE].id,
            "payload": {"subject_id": people[n % FEED_PEOPLE].id, "action": "grant"},
            "created_at": now,
        }
        for n in range(FEED_PEOPLE * FEED_EVENTS_EACH)
    ]
    db.session.execute(insert(Event), rows)
    db.session.execute(
        update(SiteGroup).where(SiteGroup.id == group_id).values(event_seq=start + len(rows))
    )
    db.session.commit()
    return client.id


def _feed_ids_in_clear(client_id: int, clear: bool) -> None:
    """Put the ids as written before the upgrade (clear), or as written now (sealed)."""
    from portal.core.integrations.models.api import ExternalId
    from portal.extensions import db

    for row in db.session.scalars(select(ExternalId).where(ExternalId.client_id == client_id)):
        value = row.value
        row.plain_value, row.sealed = (value, None) if clear else (None, value)
    db.session.commit()


def _feed_rate(client_id: int) -> float:
    """Events per second of one page of 10,000 events, each with its external id."""
    from portal.core.integrations import feed
    from portal.core.integrations.models.api import ApiClient
    from portal.extensions import db

    client = db.session.get(ApiClient, client_id)
    start = time.perf_counter()
    page = feed.page(client, None, FEED_PEOPLE * FEED_EVENTS_EACH)
    took = time.perf_counter() - start
    assert page.body.count(b'"external_id":"CRM-') >= FEED_PEOPLE * FEED_EVENTS_EACH - 500
    db.session.rollback()
    return FEED_PEOPLE * FEED_EVENTS_EACH / took


def _timed(call, *args) -> float:
    start = time.perf_counter()
    response = call(*args)
    took = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, response.status_code
    return took


def _stores():
    """The data and the key store: two PostgreSQL databases, or two SQLite files."""
    from contextlib import ExitStack, contextmanager

    @contextmanager
    def sqlite():
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.sqlite3", f"sqlite:///{folder}/bench-keys.sqlite3"

    @contextmanager
    def postgres():
        with ExitStack() as stack:
            yield stack.enter_context(scratch_postgres()), stack.enter_context(scratch_postgres())

    return sqlite() if os.environ.get("BENCH_SHREDDING_SQLITE") == "1" else postgres()


def run(quick: bool = False) -> list[Figure]:
    from portal import create_app
    from portal.core.kernel import subject_keys
    from portal.extensions import db

    rounds = 60 if quick else ROUNDS
    with _stores() as (data_url, keys_url):
        os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 32)
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": data_url,
                "PORTAL_KEYS_URL": keys_url,
                "TESTING": True,
                "RATELIMIT_ENABLED": False,
            }
        )
        with app.app_context():
            people = _setup()
            feed_client = _feed_setup(people["keyed"][1])
        browsers = {slug: app.test_client() for slug in people}

        def centre(slug):
            subject_id, group_id, _ = people[slug]
            sign_in_fully(browsers[slug], subject_id, group_id)
            return browsers[slug].get(f"/{slug}/preferences/")

        def api(slug):
            subject_id, _, key = people[slug]
            return browsers[slug].get(
                f"/api/v1/subjects/{subject_id}/consents",
                headers={"Authorization": f"Bearer {key}"},
            )

        times = {
            (what, slug): []
            for what in ("centre", "api", "centre cold", "api cold")
            for slug in people
        }
        for turn in range(rounds + 20):
            for what, call in (("centre", centre), ("api", api)):
                for slug in ("keyed", "plain") if turn % 2 else ("plain", "keyed"):
                    times[(what, slug)].append(_timed(call, slug))
                with app.app_context():
                    subject_keys.store().forget_all()  # a process that has not read the key yet
                times[(f"{what} cold", "keyed")].append(_timed(call, "keyed"))
                times[(f"{what} cold", "plain")].append(_timed(call, "plain"))
        feed_rates = {True: [], False: []}
        with app.app_context():
            for turn in range(4 if quick else 10):
                for clear in (True, False) if turn % 2 else (False, True):
                    _feed_ids_in_clear(feed_client, clear)
                    _feed_rate(feed_client)  # the key cache and the database's buffers warm
                    feed_rates[clear].append(_feed_rate(feed_client))
            db.session.remove()
            db.engine.dispose()
            subject_keys.store().engine.dispose()
    median = {k: statistics.median(v[20:]) for k, v in times.items()}
    figures = []
    for what, label in (("centre", "centre render"), ("api", "API lookup by id")):
        ratio = median[(what, "keyed")] / median[(what, "plain")]
        cold = median[(f"{what} cold", "keyed")] / median[(f"{what} cold", "plain")]
        figures += [
            Figure("shredding", f"{label}, per-person key, median", median[(what, "keyed")], "ms"),
            Figure("shredding", f"{label}, data key only, median", median[(what, "plain")], "ms"),
            Figure(
                "shredding",
                f"{label}: per-person / data key only",
                ratio,
                "x",
                f"<= {TARGET:.2f}",
                ratio <= TARGET,
            ),
            Figure("shredding", f"{label}, key not yet cached: per-person / data key", cold, "x"),
        ]
    sealed, clear = (statistics.median(feed_rates[c]) for c in (False, True))
    figures += [
        Figure("shredding", "change feed, external ids sealed (now)", sealed, "events/s"),
        Figure("shredding", "change feed, external ids in clear (before)", clear, "events/s"),
        Figure("shredding", "change feed: sealed / clear", sealed / clear, "x"),
    ]
    return figures
