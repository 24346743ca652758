"""Data in one line each, for the tests and the benchmarks: admins, people, a group of a
known size. The clock's current time applies; nothing here goes through a page."""

import json
from datetime import UTC, datetime

import pyotp
from sqlalchemy import func, select

from portal.core.consent import anchors, merkle
from portal.core.consent import changes as consent
from portal.core.consent.changes import Origin
from portal.core.consent.models import Consent, LedgerAnchor, LedgerEntry
from portal.core.consent.signup import latest_text
from portal.core.console import admins
from portal.core.console.models import BRAND_ADMIN, AdminAccount
from portal.core.kernel import clock
from portal.core.kernel.models.group import Brand, ConsentText, SiteGroup, Topic
from portal.core.kernel.models.job import DONE, Job
from portal.core.kernel.transaction import commit_session
from portal.core.people import profile, subjects
from portal.core.people.models.subject import ACTIVE, Subject
from portal.extensions import db

ESP = ["email", "sms", "post"]  # every channel

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
    with commit_session():
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
            select(LedgerEntry).where(LedgerEntry.action == action).order_by(LedgerEntry.id)
        )
    )


def legacy_anchor(group_id: int, count: int, head: str) -> LedgerAnchor:
    """The anchor the upgrade to per-person chains writes of a group's old single chain."""
    anchor = LedgerAnchor(
        group_id=group_id, seq=1, kind="legacy", count=count, root=head, prev_hash=""
    )
    anchor.sealed_at = clock.now()
    anchor.hash = merkle.anchor_hash(anchors.as_dict(anchor))
    db.session.add(anchor)
    return anchor


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


PASSWORD = "correct horse battery staple"


def make_admin(group, role, email=None, brands=(), totp=None) -> AdminAccount:
    """An admin who has accepted their invitation; owners come with two-factor codes on."""
    account = admins.new_account(
        group, email or f"{role}@admins.example", role, [b.id for b in brands]
    )
    account.password_hash = admins.hash_password(PASSWORD)
    if totp if totp is not None else role == "owner":
        account.totp_secret, account.totp_enabled = pyotp.random_base32(), True
    db.session.commit()
    return account


def brand(slug: str) -> Brand:
    return db.session.scalar(db.select(Brand).where(Brand.slug == slug))


def brand_admin(group, *slugs, email=None) -> AdminAccount:
    return make_admin(group, BRAND_ADMIN, email=email, brands=[brand(s) for s in slugs])


def sized_group(slug: str, brands: int, topics: int) -> Subject:
    """Create a plain group of ``brands`` brands with ``topics`` topics each, on all three
    channels, and one active subject holding one, two or three channels of each topic.

    Not a demo for people: it gives the centre a known size, so the benchmark and the tests
    of how the centre scales build the same group.
    """
    with commit_session():
        group = SiteGroup(slug=slug, name=slug.upper())
        db.session.add(group)
        db.session.flush()
        subject = Subject(
            group_id=group.id, email_hash=slug, email=f"{slug}@example.com", status="active"
        )
        db.session.add(subject)
        for b in range(brands):
            brand = Brand(
                group_id=group.id,
                slug=f"b{b}",
                name=f"Brand {b}",
                sender_name="B",
                sender_address="b@example.com",
                privacy_policy_url="https://b.example",
                policy_version="1",
                position=b,
            )
            db.session.add(brand)
            db.session.flush()
            db.session.add(ConsentText(brand_id=brand.id, version=1, texts={"en": "I agree."}))
            for t in range(topics):
                topic = Topic(
                    brand_id=brand.id,
                    key=f"t{t}",
                    names={"en": f"Topic {t}"},
                    descriptions={"en": "About it."},
                    channels=ESP,
                )
                db.session.add(topic)
                db.session.flush()
                for channel in ESP[: 1 + t % 3]:
                    db.session.add(
                        Consent(
                            subject_id=subject.id,
                            brand_id=brand.id,
                            topic_id=topic.id,
                            channel=channel,
                            state="granted",
                            since=clock.now(),
                            source="signup_form",
                        )
                    )
    return subject


def finished_import(group_id: int, brand_id: int, done: int, failed: int, finished_at) -> None:
    """A CSV import that finished at ``finished_at`` (what the dashboard's imports series
    counts: lines done less those that failed); added to the session, not committed."""
    db.session.add(
        Job(
            group_id=group_id,
            brand_id=brand_id,
            kind="import",
            created_by="owner",
            state=DONE,
            total=done,
            done=done,
            failed=failed,
            finished_at=finished_at,
        )
    )
