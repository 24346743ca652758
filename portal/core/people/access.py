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
from portal.core.kernel import clock, links
from portal.core.kernel.models.group import Brand, SiteGroup
from portal.core.kernel.transaction import commit_session
from portal.core.mail import address_requests, mails
from portal.core.people import subjects
from portal.core.people.models.access import SignInLink
from portal.core.people.models.subject import ERASED, Subject
from portal.extensions import db

PREFERENCES, FULL = "preferences", "full"
SIGN_IN = "sign_in"  # the kind of address request
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
    """Ask for a magic link to ``email``; returns the normalised address.

    Only records the request, alike for every address, so neither the answer nor its time can
    tell who is known; the worker mails a link to a known address and nothing to any other
    (``decide_link``). Raises InvalidInput for an address that is not one.
    """
    address = subjects.normalise_email(email)
    with commit_session():
        address_requests.record(
            SIGN_IN, group.id, address, brand=brand.id, language=language, next=next_path
        )
    return address


@address_requests.handles(SIGN_IN)
def decide_link(group_id: int, address: str, details: dict, asked_at) -> None:
    """The worker's half of ``request_link``: a link for a known, not erased address."""
    subject = subjects.find(group_id, address)
    brand = db.session.get(Brand, details["brand"])
    if subject is None or subject.status == ERASED or brand is None:
        return
    _send(subject, brand, details["language"], details["next"])


def send_fresh_link(subject: Subject, brand: Brand, language: str, next_path: str | None) -> None:
    """A new magic link for a signed-in subject who needs the "full" level for something."""
    with commit_session():
        _send(subject, brand, language, next_path)


def _send(subject: Subject, brand: Brand, language: str, next_path: str | None) -> None:
    link = SignInLink(subject_id=subject.id, purpose=FULL, created_at=clock.now())
    db.session.add(link)
    db.session.flush()
    payload = {"g": subject.group_id, "l": link.id, "s": subject.id}
    if next_path:
        payload["n"] = next_path
    url = links.link(
        links.SIGN_IN, group=subject.group.slug, token=tokens.issue("sign-in", payload)
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
    with commit_session():
        link = _link(group_id, payload)
        link.used_at = clock.now()
        subjects.was_active({link.subject_id: link.used_at})
        return Entry(link.subject, link.purpose, payload.get("n"))


def manage_entry(group_id: int, payload) -> Entry:
    """The mail-footer link (``mails.manage_link``): reusable, bound to its subject and group,
    preferences only."""
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
