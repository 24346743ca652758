"""An erasure asked for through an integrating system (a person asked by phone or letter).

The same erasure as self-service (``erasure.erase_in_transaction``), recorded as asked by the
client. A client sees only what its brands show: a subject with no consent at its brands is
"unknown" to it, as in lookups, and an unknown or already erased person is an answer too.
"""

from portal.core import erasure, lookup, subjects
from portal.core.consent import Origin
from portal.core.errors import NotFound
from portal.core.models import ApiClient, Subject
from portal.extensions import db

ERASED = "erased"


def erase(
    client: ApiClient,
    email: str | None,
    subject_id: int | None,
    reason: str,
    ip: str | None,
    user_agent: str | None,
) -> tuple[int, dict]:
    """(status, answer) in the caller's transaction; NotFound for an id the client cannot see."""
    if email is not None:
        address = subjects.normalise_email(email)
        email_hash = subjects.address_hash(client.group_id, address)
        subject = subjects.find(client.group_id, address)
    else:
        subject = db.session.get(Subject, subject_id)
        if subject is None or subject.group_id != client.group_id:
            raise NotFound("subject")
        email_hash = subject.email_hash
    if email_hash in lookup.suppressed(client.group_id, [email_hash]) and subject is None:
        return 200, {"status": lookup.SUPPRESSED, "subject_id": None, "erasure_id": None}
    visible = subject is not None and (
        client.brand_ids is None or lookup.visible_consents(client, subject.id)
    )
    if not visible:
        if email is None:
            raise NotFound("subject")
        return 200, {"status": lookup.UNKNOWN, "subject_id": None, "erasure_id": None}
    origin = Origin(
        source="api",
        actor=f"api:{client.name}",
        ip=ip,
        user_agent=user_agent,
        evidence={"reason": reason} if reason else None,
    )
    former_id = subject.id
    record = erasure.erase_in_transaction(subject, f"api:{client.name}", origin, reason)
    return 200, {"status": ERASED, "subject_id": former_id, "erasure_id": record.id}
