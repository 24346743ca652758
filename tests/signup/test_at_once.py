"""The same new address joining twice at the same moment (a double-clicked "Join", two
servers): one person, two requests as if one had come after the other, never an error."""

import pytest
from sqlalchemy import func, select

from portal.core.consent import changes as consent
from portal.core.consent.changes import Origin
from portal.core.consent.models import Consent, SignupRequest
from portal.core.consent.signup import latest_text, sign_up, signup_topics
from portal.core.kernel.models.group import Brand
from portal.core.people import subjects
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests import actions
from tests.lifecycle.factories import member


def test_a_new_address_joining_twice_at_once_is_one_person(app, demo, monkeypatch):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("several servers share PostgreSQL; SQLite serves one process")
    brand = db.session.scalar(select(Brand).where(Brand.slug == "camille"))
    topic_ids = [signup_topics(brand)[0].id]
    text_id = latest_text(brand).id
    origin = Origin(source="signup_form", actor="subject", ip="192.0.2.1")

    def join():
        here = db.session.get(Brand, brand.id)
        return sign_up(here, "twice@example.com", topic_ids, text_id, "en", origin)

    run = actions.side_by_side(app, monkeypatch, subjects, "find")
    results, errors = run(join)
    assert errors == []
    assert results == ["twice@example.com", "twice@example.com"]
    assert db.session.scalar(select(func.count()).select_from(Subject)) == 1
    assert db.session.scalar(select(func.count()).select_from(SignupRequest)) == 2


def test_a_known_person_joining_a_new_brand_twice_at_once_gets_one_consent_row(
    app, demo, monkeypatch
):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("several servers share PostgreSQL; SQLite serves one process")
    subject_id = member("known@example.com", keys=("news",)).id
    brand = db.session.scalar(select(Brand).where(Brand.slug == "aurele"))
    topic_ids, text_id = [signup_topics(brand)[0].id], latest_text(brand).id
    origin = Origin(source="signup_form", actor="subject", ip="192.0.2.1")

    def join():
        here = db.session.get(Brand, brand.id)
        return sign_up(here, "known@example.com", topic_ids, text_id, "en", origin)

    results, errors = actions.side_by_side(app, monkeypatch, consent, "current")(join)
    assert errors == []
    rows = db.session.scalars(
        select(Consent).where(Consent.subject_id == subject_id, Consent.brand_id == brand.id)
    ).all()
    assert [(row.topic_id, row.state) for row in rows] == [(topic_ids[0], "pending")]
