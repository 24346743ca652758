"""Support: start the erasure a person asked for by phone or letter (GDPR Art. 17).

The same erasure as self-service (``erasure.erase_in_transaction``), recorded as asked by the
admin, with the audit row and the access-log row in the same transaction. The admin's reason
goes only to the access log, which keeps it encrypted: the disposal record outlives the person
and holds nothing that could name them, so it says only how the person asked.
"""

from flask_babel import lazy_gettext as _l

from portal.core.consent.changes import Origin
from portal.core.console import audit, support
from portal.core.console.models import AdminAccount
from portal.core.kernel.errors import InvalidFields, InvalidInput
from portal.core.kernel.transaction import transaction
from portal.core.people import erasure
from portal.core.people.models.erasure import ErasureRecord
from portal.core.people.models.subject import Subject
from portal.extensions import db


def check(admin: AdminAccount, subject_id: int, requested_by: str, reason: str):
    """The person to erase and the cleaned reason, once everything is acceptable.

    Raises LookupError when the person is not one this admin may erase, and InvalidFields
    (with ``lookup``: the person's page, to show the form again) for bad input.
    """
    subject = db.session.get(Subject, subject_id)
    if not support.may_erase(admin, subject):
        raise LookupError(subject_id)
    errors = {}
    if requested_by not in support.REQUESTED_BY:
        errors["erase-requested_by"] = _l("Say how the person asked.")
    try:
        reason = support._reason(reason)
    except InvalidInput as refused:
        errors["erase-reason"] = refused.message
    if errors:
        refused = InvalidFields(errors)
        refused.lookup = support._view(admin, subject)
        raise refused
    return subject, reason


def erase(admin: AdminAccount, subject_id: int, requested_by: str, reason: str) -> ErasureRecord:
    """Erase the person as asked by ``admin``; returns the disposal record (id and counts)."""
    subject, reason = check(admin, subject_id, requested_by, reason)
    origin = Origin(source="admin", actor=admin.label, evidence={"requested_by": requested_by})
    with transaction():
        record = erasure.erase_in_transaction(
            subject, admin.label, origin, f"support: asked by {requested_by}"
        )
        audit.accessed(admin, "erase", subject_id, reason, detail=f"erasure:{record.id}")
        audit.record(
            admin.group_id,
            admin,
            "subject.erase",
            f"erasure:{record.id}",
            after={"requested_by": requested_by, "counts": record.counts},
        )
    return record
