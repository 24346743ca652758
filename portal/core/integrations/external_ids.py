"""A client's own identifiers for the people it knows (its CRM's customer numbers).

A client may attach one external id to each subject it can see, unique within the client; it
then finds the subject by it, and the feed and webhook deliveries it receives carry it beside
the subject id. No other client ever sees it. Erasure deletes it with the person (the row
names the subject), and the person's data export lists it under the system that holds it.
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, or_, select

from portal.core.integrations import lookup
from portal.core.integrations.models.api import ApiClient, ExternalId
from portal.core.kernel import clock
from portal.core.kernel.crypto import keys
from portal.core.kernel.errors import NotFound, Refused
from portal.core.kernel.transaction import commit_session
from portal.core.people.models.subject import Subject
from portal.extensions import db


def attach(client: ApiClient, subject_id: int, value: str) -> dict:
    """Make ``value`` the client's id for the subject (replacing its earlier one). NotFound for
    a subject the client cannot see; Refused ("external-id-taken") when the client gave the
    value to someone else already. One transaction."""
    with commit_session():
        subject = db.session.get(Subject, subject_id)
        if subject is None or subject.group_id != client.group_id:
            raise NotFound("subject")
        if not lookup.sees(client, subject_id):
            raise NotFound("subject")
        holder = find(client, value)
        if holder is not None and holder != subject_id:
            raise Refused(
                "external-id-taken", _l("This client gave this external id to another person.")
            )
        db.session.execute(
            delete(ExternalId).where(
                ExternalId.client_id == client.id, ExternalId.subject_id == subject_id
            )
        )
        db.session.add(
            ExternalId(
                client_id=client.id,
                subject_id=subject_id,
                value_hash=value_hash(client.id, value),
                sealed=value,
                created_at=clock.now(),
            )
        )
    return {"subject_id": subject_id, "external_id": value}


def value_hash(client_id: int, value: str) -> str:
    """The keyed hash an external id is found by: per client, so the same customer number at
    two clients does not link their rows."""
    return keys().keyed_hash(f"external-id:{client_id}:{value}")


def find(client: ApiClient, value: str) -> int | None:
    """The subject the client gave ``value`` to, if any."""
    return db.session.scalar(
        select(ExternalId.subject_id).where(
            ExternalId.client_id == client.id,
            or_(
                ExternalId.value_hash == value_hash(client.id, value),
                ExternalId.plain_value == value,  # written before, not moved yet
            ),
        )
    )


def of(client_id: int, subject_id: int | None) -> str | None:
    """The client's id for the subject, if it gave one."""
    if subject_id is None:
        return None
    row = db.session.execute(
        select(ExternalId.sealed, ExternalId.plain_value).where(
            ExternalId.client_id == client_id, ExternalId.subject_id == subject_id
        )
    ).first()
    return None if row is None else readable(*row)


def readable(sealed: str | None, plain: str | None) -> str | None:
    """The value of a row read as its two columns (the feed reads them in its own query)."""
    return sealed if sealed is not None else plain


def held_for(subject_id: int) -> list[dict]:
    """Every system that knows the person by an id of its own: for their data export."""
    rows = db.session.execute(
        select(ApiClient.name, ExternalId.sealed, ExternalId.plain_value, ExternalId.created_at)
        .join(ApiClient, ExternalId.client_id == ApiClient.id)
        .where(ExternalId.subject_id == subject_id)
        .order_by(ApiClient.name)
    )
    return [
        {"system": name, "external_id": readable(sealed, plain), "since": since}
        for name, sealed, plain, since in rows
    ]
