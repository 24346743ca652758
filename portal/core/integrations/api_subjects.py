"""What integrating systems may do to a whole subject: erase them (a person asked by phone or
letter), or say what they are to the group (customer, former customer, prospect).

The same erasure as self-service (``erasure.erase_in_transaction``), recorded as asked by the
client. A client sees only what its brands show: a subject with no consent at its brands is
"unknown" to it, as in lookups, and an unknown or already erased person is an answer too.
"""

from portal.core.consent.changes import Origin
from portal.core.integrations import lookup
from portal.core.integrations.models.api import ApiClient
from portal.core.kernel.errors import NotFound
from portal.core.people import erasure, subjects
from portal.core.people.models.subject import Subject
from portal.extensions import db

ERASED = "erased"


def visible_subject(client: ApiClient, email: str | None, subject_id: int | None):
    """(subject or None, email hash) as the client may see them; NotFound for a hidden id."""
    email_hash = None
    if email is not None:
        address = subjects.normalise_email(email)
        email_hash = subjects.address_hash(client.group_id, address)
        subject = subjects.find(client.group_id, address)
    else:
        subject = db.session.get(Subject, subject_id)
        if subject is None or subject.group_id != client.group_id:
            raise NotFound("subject")
        email_hash = subject.email_hash
    if subject is not None and not lookup.sees(client, subject.id):
        subject = None
    if subject is None and email is None:
        raise NotFound("subject")
    return subject, email_hash


def set_relationship(
    client: ApiClient, email: str | None, subject_id: int | None, value: str | None
) -> dict:
    """Record customer / former customer / prospect, as the client's system knows it."""
    from portal.core.lifecycle.answers import record_relationship

    subject, _ = visible_subject(client, email, subject_id)
    if subject is None:
        return {"status": lookup.UNKNOWN, "subject_id": None, "relationship": None}
    record_relationship(subject, value)
    return {"status": subject.status, "subject_id": subject.id, "relationship": value}


def erase(
    client: ApiClient,
    email: str | None,
    subject_id: int | None,
    reason: str,
    ip: str | None,
    user_agent: str | None,
) -> dict:
    """What became of the person (status, subject_id, erasure_id), in the caller's
    transaction; NotFound for an id the client cannot see."""
    subject, email_hash = visible_subject(client, email, subject_id)
    if subject is None:
        status = (
            lookup.SUPPRESSED
            if lookup.suppressed(client.group_id, [email_hash])
            else lookup.UNKNOWN
        )
        return {"status": status, "subject_id": None, "erasure_id": None}
    origin = Origin(
        source="api",
        actor=f"api:{client.name}",
        ip=ip,
        user_agent=user_agent,
        evidence={"reason": reason} if reason else None,
    )
    former_id = subject.id
    # The client's reason may name the person ("caller … tel …"): it goes with the ledger's
    # personal part under their key, deleted with them, never in the disposal record.
    record = erasure.erase_in_transaction(subject, f"api:{client.name}", origin)
    return {"status": ERASED, "subject_id": former_id, "erasure_id": record.id}
