"""Profile attributes through the API (scopes ``profile:read``, ``profile:write``): names,
mobile number and postal address, each with where it last came from and when the person last
confirmed it.

The same fields, rules and events as the person's own edits on "My data"
(``people.profile``): a value is validated by the same ``parse_*`` function, a change is
recorded as made by ``api:<client name>`` and announced as ``profile.updated`` with the
changed fields only. A client sees only the people its brands show (``lookup.sees``).
"""

from sqlalchemy import select

from portal.core.integrations import lookup
from portal.core.integrations.models.api import ApiClient
from portal.core.kernel import clock
from portal.core.kernel.errors import NotFound
from portal.core.kernel.transaction import commit_session
from portal.core.people import profile
from portal.core.people.models.profile import ProfileField
from portal.core.people.models.subject import Subject
from portal.extensions import db

FIELDS = (profile.FIRST_NAME, profile.LAST_NAME, profile.MOBILE, profile.POSTAL)


def _subject(client: ApiClient, subject_id: int) -> Subject:
    subject = db.session.get(Subject, subject_id)
    if (
        subject is None
        or subject.group_id != client.group_id
        or not lookup.sees(client, subject_id)
    ):
        raise NotFound("subject")
    return subject


def _source(actor: str | None) -> str | None:
    """Who last set a value, in the API's words: the person, customer service, or a client."""
    if actor is None:
        return None
    kind, _, name = actor.partition(":")
    return {"subject": "person", "admin": "customer_service"}.get(kind, actor if name else kind)


def read(client: ApiClient, subject_id: int) -> dict:
    """The subject's profile attributes: per field its value (null: none held), source
    (``person``, ``customer_service``, ``api:<client>``, ...) and dates. NotFound for a
    subject the client cannot see."""
    subject = _subject(client, subject_id)
    rows = {
        row.name: row
        for row in db.session.scalars(
            select(ProfileField).where(
                ProfileField.subject_id == subject.id, ProfileField.name.in_(FIELDS)
            )
        )
    }
    return {
        "subject_id": subject.id,
        "fields": {
            name: {
                "value": profile.shown(name, rows[name].value) if name in rows else None,
                "source": _source(rows[name].updated_by) if name in rows else None,
                "last_confirmed": _iso(rows[name].confirmed_at) if name in rows else None,
                "updated_at": _iso(rows[name].updated_at) if name in rows else None,
            }
            for name in FIELDS
        },
    }


def _iso(moment) -> str | None:
    return None if moment is None else moment.isoformat()


def parse(values: dict) -> dict[str, str | None]:
    """Each given field validated as on "My data"; InvalidInput names the first wrong one.
    None clears a name (contact fields cannot be cleared: channels depend on them)."""
    parsed = {}
    for name, raw in values.items():
        if name in (profile.FIRST_NAME, profile.LAST_NAME):
            parsed[name] = profile.parse_name(name, raw)
        elif name == profile.MOBILE:
            parsed[name] = profile.parse_mobile(raw)
        elif name == profile.POSTAL:
            parsed[name] = profile.parse_postal(
                raw["lines"], raw["postcode"], raw["city"], raw["country"]
            )
    return parsed


def write(client: ApiClient, subject_id: int, values: dict) -> dict:
    """Set the given fields (validated by ``parse``) in one transaction, as told by the client:
    each set value counts as confirmed now; an unchanged value is only confirmed again; one
    ``profile.updated`` event per changed field, as for every other change. Returns ``read``."""
    subject = _subject(client, subject_id)
    actor = f"api:{client.name}"[:80]
    with commit_session():
        held = profile.fields_of(subject)
        for name, value in values.items():
            if value is None:
                if name in held:
                    db.session.delete(held[name])
                    profile.announce(subject, name, None)
                continue
            row = profile.set_field(subject, name, value, actor)
            row.confirmed_at = clock.now()
    return read(client, subject_id)
