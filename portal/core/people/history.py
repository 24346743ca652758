"""What the portal did with a person's data, for the export (GDPR Art. 15(1)(c)): the mails
sent to them, the sign-in links mailed, and the events integrating systems received about them.

(The portal holds no external ids of people: integrating systems know them by ``subject_id``,
which the export gives.)
"""

import json

from sqlalchemy import select

from portal.core.integrations import events
from portal.core.integrations.models.event import Event
from portal.core.kernel.models.group import Brand
from portal.core.mail.models import OutboxMessage
from portal.core.people.models.access import SignInLink
from portal.core.people.models.subject import Subject
from portal.extensions import db


def _iso(moment):
    return None if moment is None else moment.isoformat(timespec="seconds")


def mails(subject: Subject) -> list[dict]:
    """Every mail to the person still held: its kind, the brand it came from, when."""
    rows = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.subject_id == subject.id)
        .order_by(OutboxMessage.id)
    )
    found = []
    for row in rows:
        sender = json.loads(row.content).get("sender") or [None]
        found.append(
            {
                "kind": row.kind,
                "brand": sender[0],
                "createdAt": _iso(row.created_at),
                "sentAt": _iso(row.sent_at),
                "status": row.status,
            }
        )
    return found


def sign_in_links(subject: Subject) -> list[dict]:
    """Every sign-in link mailed to the person: when, for what, and whether it was used."""
    rows = db.session.scalars(
        select(SignInLink).where(SignInLink.subject_id == subject.id).order_by(SignInLink.id)
    )
    return [
        {
            "purpose": row.purpose,
            "createdAt": _iso(row.created_at),
            "usedAt": _iso(row.used_at),
            "used": row.used_at is not None,
        }
        for row in rows
    ]


def integrator_events(subject: Subject) -> list[dict]:
    """Every event about the person that integrating systems read or received, as they saw
    it (a profile change with its new values)."""
    brands = dict(
        db.session.execute(
            select(Brand.id, Brand.name).where(Brand.group_id == subject.group_id)
        ).all()
    )
    rows = db.session.scalars(
        select(Event)
        .where(Event.subject_id == subject.id, Event.client_id.is_(None))
        .order_by(Event.xid, Event.id)
    )
    return [
        {
            "type": row.type,
            "brand": brands.get(row.brand_id),
            "createdAt": _iso(row.created_at),
            "data": events.data_of(row.payload, row.personal),
        }
        for row in rows
    ]
