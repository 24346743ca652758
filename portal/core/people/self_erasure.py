"""The "Withdraw and erase my data" flow: asked for in a signed-in page, confirmed by a link.

The footer link of every mail is reusable and may be forwarded, and even a full session may
be someone else's browser left open, so erasure (GDPR Art. 17) needs a link mailed to the
person's address now: short-lived (ERASURE_LINK_MAX_AGE) and single use, because it names a
``SignInLink`` row of purpose "erase" that goes with the subject when the erasure runs.
"""

from portal import tokens
from portal.core.consent.changes import Origin
from portal.core.integrations import erasure_requests
from portal.core.kernel import clock, links
from portal.core.kernel.models.group import Brand
from portal.core.kernel.transaction import commit_session
from portal.core.mail import mails
from portal.core.people import access, erasure
from portal.core.people.models.access import SignInLink
from portal.core.people.models.erasure import ErasureRecord
from portal.core.people.models.subject import Subject
from portal.extensions import db

PURPOSE = "erase"
REASON = "asked for by the person in the self-service pages"


def send_link(subject: Subject, brand: Brand, language: str) -> None:
    """Mail the confirmation link; nothing is erased yet."""
    with commit_session():
        link = SignInLink(subject_id=subject.id, purpose=PURPOSE, created_at=clock.now())
        db.session.add(link)
        db.session.flush()
        token = tokens.issue("erase", {"g": subject.group_id, "l": link.id, "s": subject.id})
        url = links.link(links.ERASE, group=subject.group.slug, token=token)
        mails.erasure_link(subject, brand, url, language)


def check(group_id: int, payload) -> Subject:
    """Whose erasure a link would confirm, without using it; raises access.LinkRefused."""
    return access.mailed_link(group_id, payload, PURPOSE).subject


def confirm(group_id: int, payload, origin: Origin) -> ErasureRecord:
    """Erase the subject the link names, all or nothing (see ``erasure.erase``)."""
    subject = check(group_id, payload)
    return erasure.erase(subject, "subject", origin, REASON)


def status_ticket(record: ErasureRecord) -> str:
    """The reusable ticket of the status page, as the farewell mail carries it."""
    return tokens.issue("erasure-status", {"g": record.group_id, "e": record.id})


def status(group_id: int, payload) -> dict | None:
    """What the status page shows for a ticket's payload: when the erasure was done and where
    each recipient's answer stands. Nothing about the person (there is nothing left); None for
    a payload of another group or an erasure unknown here."""
    if not isinstance(payload, dict) or payload.get("g") != group_id:
        return None
    erasure_id = payload.get("e")
    record = db.session.get(ErasureRecord, erasure_id) if isinstance(erasure_id, str) else None
    if record is None or record.group_id != group_id:
        return None
    return {
        "erasure_id": record.id,
        "erased_at": record.erased_at,
        "systems": erasure_requests.status_of(group_id, record.id),
    }
