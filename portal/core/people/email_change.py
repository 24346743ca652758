"""Changing the address: the new address confirms itself, and nothing changes until it does.

A request mails a single-use link to the new address and a notice to the current one. When
the new address already belongs to another subject of the group, its mailbox is told that it
cannot be used instead of getting a link; the requester's page and the notice are the same in
both cases, so the answer never reveals who else is registered. Confirming the link is a fresh
double opt-in of the new address, so it also lifts a suppression of that address (recorded in
the ledger), as signing up again would.
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from portal import tokens
from portal.core.consent.changes import Origin
from portal.core.integrations import events
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.models.group import Brand
from portal.core.kernel.transaction import transaction
from portal.core.mail import mails
from portal.core.people import access, erasure, subjects
from portal.core.people.models.profile import EmailChange
from portal.core.people.models.subject import ERASED, Subject
from portal.extensions import db
from portal.links import external_url


class AddressTaken(Exception):
    """The new address came to belong to someone else between the request and the click."""


def request(subject: Subject, raw: str, brand: Brand, language: str) -> str:
    """Ask to change ``subject``'s address to ``raw``; returns the normalised new address.

    Raises InvalidInput for an address that is not one, or is already the subject's. A newer
    request replaces an older one still waiting.
    """
    address = subjects.normalise_email(raw)
    if address == subject.email:
        raise InvalidInput("email", _l("This is already your address."))
    with transaction():
        cancel_pending(subject)
        # A row either way, so the page shows the same waiting change whoever owns the address.
        change = EmailChange(subject_id=subject.id, new_email=address, created_at=clock.now())
        db.session.add(change)
        db.session.flush()
        if subjects.find(subject.group_id, address) is not None:
            mails.address_taken(subject, brand, address, language)
        else:
            token = tokens.issue("change-email", _payload(change))
            link = external_url("selfservice.confirm_email", group=subject.group.slug, token=token)
            mails.confirm_new_address(subject, brand, address, link, language)
        mails.address_change_notice(subject, brand, address, language)
    return address


def pending(subject: Subject) -> EmailChange | None:
    return db.session.scalar(
        select(EmailChange)
        .where(EmailChange.subject_id == subject.id)
        .order_by(EmailChange.id.desc())
        .limit(1)
    )


def cancel_pending(subject: Subject) -> int:
    """Forget any change still waiting (in the caller's transaction); its link stops working."""
    return db.session.execute(
        delete(EmailChange).where(EmailChange.subject_id == subject.id)
    ).rowcount


def cancel(subject: Subject) -> int:
    with transaction():
        return cancel_pending(subject)


def _payload(change: EmailChange) -> dict:
    # The row id alone is not enough: SQLite may give a deleted row's id to a newer request,
    # so the link also names its subject and (by keyed hash) the address it was sent to.
    subject = change.subject
    digest = subjects.address_hash(subject.group_id, change.new_email)[:32]
    return {"g": subject.group_id, "c": change.id, "s": subject.id, "h": digest}


def check(group_id: int, payload) -> EmailChange:
    """The waiting change a token names; raises access.LinkRefused("unknown")."""
    if not isinstance(payload, dict) or payload.get("g") != group_id:
        raise access.LinkRefused("unknown")
    change_id = payload.get("c")
    change = db.session.get(EmailChange, change_id) if isinstance(change_id, int) else None
    if change is None or change.subject.group_id != group_id or change.subject.status == ERASED:
        raise access.LinkRefused("unknown")
    if payload != _payload(change):
        raise access.LinkRefused("unknown")
    return change


def confirm(group_id: int, payload, origin: Origin) -> Subject:
    """Move the subject to the confirmed new address, in one transaction; the link then stops
    working. Raises access.LinkRefused, or AddressTaken (nothing changed)."""
    with transaction():
        change = check(group_id, payload)
        subject, address = change.subject, change.new_email
        if subjects.find(group_id, address) is not None:
            raise AddressTaken()
        subject.email = address
        subject.email_hash = subjects.address_hash(group_id, address)
        subject.email_confirmed_at = clock.now()
        cancel_pending(subject)
        db.session.flush()
        erasure.lift_suppression(subject, origin)
        events.profile_updated(subject, {"email": address})
        return subject
