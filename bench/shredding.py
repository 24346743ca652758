"""What per-person keys (crypto-shredding) cost the preference centre and the API lookup.

Two people alike in every way (7 brands x 6 topics x 3 channels, a profile), one under a key
of their own, one under the data key alone (as before per-person keys); their centre and
their consents through the API (GET /subjects/<id>/consents) are requested in turn, so load on
the machine falls on both alike. Goal: per-person keys cost no more than 10 % (a key read once
per process is then cached). The cold figure forgets the cached key before every request: the
first request after a start, the worst case.
"""

import os
import statistics
import tempfile
import time
from datetime import date

from sqlalchemy import LargeBinary, select, type_coerce, update

from bench.common import Figure, sign_in_fully

ROUNDS = 300
TARGET = 1.10


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


def _timed(call, *args) -> float:
    start = time.perf_counter()
    response = call(*args)
    took = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, response.status_code
    return took


def run(quick: bool = False) -> list[Figure]:
    from portal import create_app
    from portal.core.kernel import subject_keys

    rounds = 60 if quick else ROUNDS
    with tempfile.TemporaryDirectory() as folder:
        os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 32)
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.sqlite3",
                "PORTAL_KEYS_URL": f"sqlite:///{folder}/bench-keys.sqlite3",
                "TESTING": True,
                "RATELIMIT_ENABLED": False,
            }
        )
        with app.app_context():
            people = _setup()
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
    return figures
