"""People in one line each, at the clock's current time, for the lifecycle tests."""

import json
from datetime import UTC, datetime

from sqlalchemy import func, select

from portal.core.consent import changes as consent
from portal.core.consent.changes import Origin
from portal.core.consent.models import LedgerEntry
from portal.core.consent.signup import latest_text
from portal.core.kernel import clock
from portal.core.kernel.models.group import Brand, SiteGroup, Topic
from portal.core.kernel.transaction import transaction
from portal.core.people import profile, subjects
from portal.core.people.models.subject import ACTIVE
from portal.extensions import db

START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
ORIGIN = Origin(source="preference_centre", actor="subject", ip="192.0.2.1", user_agent="UA")
PARIS = json.dumps(
    {"lines": ["1 rue de Rivoli"], "postcode": "75001", "city": "Paris", "country": "FR"}
)


def topic(key: str, brand: str = "camille") -> Topic:
    return db.session.scalar(select(Topic).join(Brand).where(Brand.slug == brand, Topic.key == key))


def member(email: str, keys=("news",), brand: str = "camille", postal: str | None = None):
    """An active subject holding email consent to ``keys`` of ``brand`` (and an address)."""
    group = db.session.scalar(select(SiteGroup).where(SiteGroup.slug == "luxe"))
    with transaction():
        subject = subjects.find_or_create(group.id, email, "en")
        subject.status, subject.confirmed_at = ACTIVE, clock.now()
        for key in keys:
            chosen = topic(key, brand)
            consent.grant(subject, chosen, "email", latest_text(chosen.brand), "en", ORIGIN)
        if postal:
            profile.set_field(subject, profile.POSTAL, postal, actor="subject")
    return subject


def ledger_rows(action: str) -> list[LedgerEntry]:
    return list(
        db.session.scalars(
            select(LedgerEntry).where(LedgerEntry.action == action).order_by(LedgerEntry.seq)
        )
    )


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))
