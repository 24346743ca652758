"""Support: an admin finds one person by exact address to answer a complaint, and can record a
withdrawal the person asked for by phone or letter.

Every lookup asks for a reason and is written to the access log (GDPR Art. 5(2),
accountability), found or not. A brand admin sees only people with a consent or sign-up at
their brands, and only those consents: anyone else reads exactly like "not found".
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.core.consent import changes as consent
from portal.core.consent.changes import Origin
from portal.core.consent.models import Consent, LedgerEntry
from portal.core.console import admins, audit
from portal.core.console.models import OWNER, AdminAccount
from portal.core.kernel.errors import InvalidFields, InvalidInput
from portal.core.kernel.transaction import commit_session
from portal.core.people import subjects
from portal.core.people.models.subject import Subject
from portal.extensions import db

REQUESTED_BY = ("phone", "letter", "email", "in_person")


@dataclass
class Lookup:
    subject: Subject | None
    consents: list[Consent]
    ledger: list[LedgerEntry]
    erasable: bool = False  # may this admin start an erasure of this person?


def _reason(raw: str) -> str:
    reason = (raw or "").strip()
    if len(reason) < 5 or len(reason) > 500:
        raise InvalidInput("reason", _l("Say why you look this person up (5 to 500 characters)."))
    return reason


def sees(admin: AdminAccount, subject: Subject | None) -> bool:
    """Whether ``admin`` may know of ``subject``: an owner anyone of their group, a brand admin
    only a person with a consent or a sign-up (a pending consent) at one of their brands."""
    if subject is None or subject.group_id != admin.group_id:
        return False
    if admin.role == OWNER:
        return True
    brand_ids = [brand.id for brand in admin.brands]
    return (
        db.session.scalar(
            select(Consent.id)
            .where(Consent.subject_id == subject.id, Consent.brand_id.in_(brand_ids))
            .limit(1)
        )
        is not None
    )


def _view(admin: AdminAccount, subject: Subject | None) -> Lookup:
    if not sees(admin, subject):
        return Lookup(None, [], [])
    brand_ids = [brand.id for brand in admins.visible_brands(admin)]
    consents = db.session.scalars(
        select(Consent)
        .where(Consent.subject_id == subject.id, Consent.brand_id.in_(brand_ids))
        .order_by(Consent.brand_id, Consent.topic_id, Consent.channel)
    ).all()
    ledger = db.session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.subject_id == subject.id, LedgerEntry.brand_id.in_(brand_ids))
        # In the order things happened: a consent captured elsewhere may arrive late.
        .order_by(LedgerEntry.occurred_at, LedgerEntry.id)
    ).all()
    return Lookup(subject, list(consents), list(ledger), may_erase(admin, subject))


def may_erase(admin: AdminAccount, subject: Subject | None) -> bool:
    """Owners may erase anyone of their group; a brand admin only a person they see (the
    erasure then reaches every brand of the group, as the law asks)."""
    return admins.can(admin, "support") and sees(admin, subject)


def look_up(admin: AdminAccount, email: str, reason: str) -> Lookup:
    """The person with exactly this address in the admin's group, with proof of their consents."""
    errors = {}
    try:
        address = subjects.normalise_email(email)
    except InvalidInput as refused:
        errors["email"] = refused.message
    try:
        reason = _reason(reason)
    except InvalidInput as refused:
        errors["reason"] = refused.message
    if errors:
        raise InvalidFields(errors)
    subject = subjects.find(admin.group_id, address)
    if not sees(admin, subject):
        subject = None  # only with other brands: exactly as if no one had the address
    with commit_session():
        audit.accessed(
            admin,
            "lookup",
            subject.id if subject else None,
            reason,
            detail=None if subject else "not found",
        )
    return _view(admin, subject)


def withdraw(admin: AdminAccount, consent_id: int, requested_by: str, reason: str) -> Lookup:
    """Record a withdrawal the person asked for outside the portal, as asked by this admin.

    Raises LookupError when the consent is not one this admin may act on, and InvalidFields
    (with ``lookup``: what the admin was looking at, to show the form again) for bad input.
    """
    row = db.session.get(Consent, consent_id)
    if row is None or not admins.can(admin, "support", row.brand):
        raise LookupError(consent_id)
    errors = {}
    if requested_by not in REQUESTED_BY:
        errors["requested_by"] = _l("Say how the person asked.")
    try:
        reason = _reason(reason)
    except InvalidInput as refused:
        errors["reason"] = refused.message
    subject = db.session.get(Subject, row.subject_id)
    if errors:
        refused = InvalidFields(errors)
        refused.lookup = _view(admin, subject)
        raise refused
    origin = Origin(source="admin", actor=admin.label, evidence={"requested_by": requested_by})
    before = row.state
    with commit_session():
        consent.withdraw(subject, row.topic, row.channel, origin)
        audit.accessed(admin, "withdraw", subject.id, reason, detail=f"consent:{row.id}")
        audit.record(
            admin.group_id,
            admin,
            "consent.withdraw",
            f"consent:{row.id}",
            brand_id=row.brand_id,
            before={"state": before},
            after={"state": row.state},
        )
    return _view(admin, subject)
