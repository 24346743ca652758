"""Getting into the preference centre without a password, and what each way in allows.

Two ways in, two access levels:
- a magic link asked for on the sign-in page ("full"): single use, short-lived, proves the
  person reads the mailbox now; needed for personal data, address change and erasure;
- the "Manage preferences" link in every mail's footer ("preferences"): reusable and
  long-lived, so it only opens subscription changes.
The web layer keeps the level in the session; this module decides what a link is worth.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from portal import tokens
from portal.core.kernel import clock
from portal.core.kernel.models.group import Brand, SiteGroup
from portal.core.kernel.transaction import transaction
from portal.core.mail import mails
from portal.core.people import subjects
from portal.core.people.models.access import SignInLink
from portal.core.people.models.subject import ERASED, Subject
from portal.extensions import db
from portal.links import external_url

PREFERENCES, FULL = "preferences", "full"
_RANK = {PREFERENCES: 1, FULL: 2}


def allows(held: str | None, needed: str) -> bool:
    """Whether a session at level ``held`` may do what needs level ``needed``."""
    return _RANK.get(held or "", 0) >= _RANK[needed]


def is_idle(last_seen: datetime, minutes: int) -> bool:
    """A session unused for ``minutes`` has ended, whatever its cookie says."""
    return clock.now() - last_seen > timedelta(minutes=minutes)


def request_link(
    group: SiteGroup, email: str, language: str, brand: Brand, next_path: str | None = None
) -> str:
    """Send a magic link to a known address; returns the normalised address.

    The caller answers the same whatever happens here: an unknown (or erased) address gets no
    mail and no row, so the answer cannot tell who is known. Raises InvalidInput for an
    address that is not one.
    """
    address = subjects.normalise_email(email)
    with transaction():
        subject = subjects.find(group.id, address)
        if subject is not None and subject.status != ERASED:
            _send(subject, brand, language, next_path)
    return address


def send_fresh_link(subject: Subject, brand: Brand, language: str, next_path: str | None) -> None:
    """A new magic link for a signed-in subject who needs the "full" level for something."""
    with transaction():
        _send(subject, brand, language, next_path)


def _send(subject: Subject, brand: Brand, language: str, next_path: str | None) -> None:
    link = SignInLink(subject_id=subject.id, purpose=FULL, created_at=clock.now())
    db.session.add(link)
    db.session.flush()
    payload = {"g": subject.group_id, "l": link.id, "s": subject.id}
    if next_path:
        payload["n"] = next_path
    url = external_url(
        "preferences.open_link", group=subject.group.slug, token=tokens.issue("sign-in", payload)
    )
    mails.sign_in(subject, brand, url, language)


@dataclass(frozen=True)
class Entry:
    """Who a link lets in, at which level, and where they were going."""

    subject: Subject
    level: str
    next_path: str | None = None


class LinkRefused(Exception):
    """A genuine link that cannot be used: ``reason`` is "used" or "unknown"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _link(group_id: int, payload, purpose: str = FULL) -> SignInLink:
    if not isinstance(payload, dict) or payload.get("g") != group_id:
        raise LinkRefused("unknown")
    link_id = payload.get("l")
    link = db.session.get(SignInLink, link_id) if isinstance(link_id, int) else None
    if link is None or link.subject.group_id != group_id or link.subject.status == ERASED:
        raise LinkRefused("unknown")
    if link.purpose != purpose:  # an erasure link's row never opens the centre, nor the reverse
        raise LinkRefused("unknown")
    # SQLite may give a deleted row's id to a new row: the subject (ids never reused) must match.
    if payload.get("s") != link.subject_id:
        raise LinkRefused("unknown")
    if link.used_at is not None:
        raise LinkRefused("used")
    return link


def mailed_link(group_id: int, payload, purpose: str) -> SignInLink:
    """The unused link row a token of ``purpose`` names; raises LinkRefused."""
    return _link(group_id, payload, purpose)


def check_link(group_id: int, payload) -> Entry:
    """What a magic link would open, without using it (a GET, which mail scanners make)."""
    link = _link(group_id, payload)
    return Entry(link.subject, link.purpose, payload.get("n"))


def use_link(group_id: int, payload) -> Entry:
    """Use a magic link once: afterwards it is refused as "used"."""
    with transaction():
        link = _link(group_id, payload)
        link.used_at = clock.now()
        return Entry(link.subject, link.purpose, payload.get("n"))


def manage_token(subject: Subject) -> str:
    return tokens.issue("manage", {"g": subject.group_id, "s": subject.id})


def manage_entry(group_id: int, payload) -> Entry:
    """The mail-footer link: reusable, bound to its subject and group, preferences only."""
    if not isinstance(payload, dict) or payload.get("g") != group_id:
        raise LinkRefused("unknown")
    subject_id = payload.get("s")
    subject = (
        db.session.scalar(
            select(Subject).where(Subject.id == subject_id, Subject.group_id == group_id)
        )
        if isinstance(subject_id, int)
        else None
    )
    if subject is None or subject.status == ERASED:
        raise LinkRefused("unknown")
    return Entry(subject, PREFERENCES)
