"""`flask lifecycle run` on PostgreSQL: the preview's time and a full run's throughput.

N people (10,000; 1,000 with --quick) joined 20 months ago, each with a consent, the three
ledger rows of their sign-up (request, confirmation, grant) and a postal address, so the
re-permission and freshness rules are due for everyone: a full run queues 2 mails per person.
Targets: preview under 1 s; a run handles 10 people a second or more, so a backlog of 10,000
due people clears within 20 minutes of cron runs (the steady state is the few people who fall
due each day). Each person is a transaction of its own under a row lock, about ten queries
per reminder: the figure is bound by database round trips.

The preview runs straight after the load, before PostgreSQL's statistics have caught up, as
an admin's would after a large import: the queries must not depend on fresh estimates.
BENCH_LIFECYCLE_PREVIEW_ONLY=1 measures the preview alone and skips the run (minutes at full
scale); its results file then holds the preview figure only.
"""

import json
import os
import time
from datetime import timedelta

from bench.common import Figure, scratch_postgres

PREVIEW_TARGET_S, RATE_TARGET = 1.0, 10.0


def _people(count: int) -> None:
    from sqlalchemy import insert, select

    from portal.core.consent import ledger
    from portal.core.consent.models import CONFIRMED, GRANT, REQUESTED, Consent
    from portal.core.console.demo import load
    from portal.core.kernel import clock
    from portal.core.kernel.models.group import ConsentText, Topic
    from portal.core.people import subjects
    from portal.core.people.models.profile import ProfileField
    from portal.core.people.models.subject import Subject
    from portal.extensions import db

    group, _ = load()
    topic = db.session.scalar(select(Topic).where(Topic.key == "news").limit(1))
    text = db.session.scalar(select(ConsentText).where(ConsentText.brand_id == topic.brand_id))
    now = clock.now()
    rows = [
        {
            "group_id": group.id,
            "email_hash": subjects.address_hash(group.id, f"p{n}@example.com"),
            "email": f"p{n}@example.com",
            "status": "active",
            "language": "en",
            "created_at": now,
            "confirmed_at": now,
        }
        for n in range(count)
    ]
    db.session.execute(insert(Subject), rows)
    ids = db.session.scalars(select(Subject.id).order_by(Subject.id)).all()
    db.session.execute(
        insert(Consent),
        [
            {
                "subject_id": i,
                "brand_id": topic.brand_id,
                "topic_id": topic.id,
                "channel": "email",
                "state": "granted",
                "since": now,
                "source": "signup_form",
                "text_version_id": text.id,
                "policy_version": "2026-01",
                "updated_at": now,
            }
            for i in ids
        ],
    )
    ledger.append_many(
        group.id,
        [
            {
                "subject_id": i,
                "brand_id": topic.brand_id,
                "topic_id": topic.id,
                "channel": "email",
                "action": action,
                "source": "signup_form",
                "text_version_id": text.id,
                "language": "en",
                "policy_version": "2026-01",
                "occurred_at": now,
                "actor": "subject",
            }
            for i in ids
            for action in (REQUESTED, CONFIRMED, GRANT)
        ],
    )
    address = json.dumps(
        {"lines": ["1 rue de Rivoli"], "postcode": "75001", "city": "Paris", "country": "FR"}
    )
    db.session.execute(
        insert(ProfileField),
        [
            {
                "subject_id": i,
                "name": "postal_address",
                "value": address,
                "confirmed_at": now,
                "updated_at": now,
                "updated_by": "subject",
            }
            for i in ids
        ],
    )
    db.session.commit()
    return group


def run(quick: bool = False) -> list[Figure]:
    from flask_migrate import upgrade

    from portal import create_app
    from portal.core.kernel import clock
    from portal.core.lifecycle import run as lifecycle
    from portal.extensions import db

    count = 1_000 if quick else 10_000
    preview_only = os.environ.get("BENCH_LIFECYCLE_PREVIEW_ONLY") == "1"
    os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 32)
    with scratch_postgres() as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
        with app.app_context():
            upgrade()
            start = clock.now()
            clock.freeze(start)
            group = _people(count)
            clock.freeze(start + timedelta(days=600))
            began = time.perf_counter()
            counts = lifecycle.preview(group)
            preview = time.perf_counter() - began
            assert counts["repermission"] == count and counts["freshness"] == count, counts
            elapsed = None if preview_only else _run(lifecycle, group, count)
            clock.freeze(None)
            db.session.remove()
            db.engine.dispose()
    figures = [
        Figure(
            "lifecycle",
            f"preview of every rule, {count:,} people due",
            preview,
            "s",
            f"< {PREVIEW_TARGET_S:.0f} s",
            preview < PREVIEW_TARGET_S,
        )
    ]
    if elapsed is None:
        return figures
    rate = count / elapsed
    return [
        *figures,
        Figure(
            "lifecycle",
            f"run, {count:,} people x 2 reminders",
            rate,
            "people/s",
            f">= {RATE_TARGET:.0f}",
            rate >= RATE_TARGET,
        ),
        Figure("lifecycle", "run, total time", elapsed, "s"),
    ]


def _run(lifecycle, group, count: int) -> float:
    """Seconds for one full run, which must act on everyone."""
    began = time.perf_counter()
    done = lifecycle.run(group, batch=500)
    elapsed = time.perf_counter() - began
    assert done["repermission"] == count and done["freshness"] == count, done
    return elapsed
