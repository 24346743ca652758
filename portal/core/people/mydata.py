"""Everything held about a subject, for the "My data" page and the export's extra sections.

GDPR Art. 15: the person sees all of it, nothing left out: the address, every profile field
of the group with when it was last confirmed, each consent with its whole ledger history,
where and when they signed up, the recipients of their data, and their passkeys.
"""

from dataclasses import dataclass, field

from sqlalchemy import select

from portal.core.consent import changes as consent
from portal.core.consent.models import Consent, LedgerEntry, SignupRequest
from portal.core.integrations import external_ids
from portal.core.integrations.recipients import reading
from portal.core.people import email_change, export, history, passkeys, profile
from portal.core.people.models.passkey import Passkey
from portal.core.people.models.profile import EmailChange, ProfileField
from portal.core.people.models.subject import Subject
from portal.extensions import db


def recipients(subject: Subject) -> list[dict]:
    """The integrating systems that receive the person's data (GDPR Art. 15(1)(c)): clients
    with processing terms that can read the person, by the same rule that asks them to erase.

    A client limited to some brands reads only what the person holds at those brands, so it is
    a recipient only where the person has a consent there.
    """
    held = {row.brand_id for row in consent.current(subject).values()}
    brands = {brand.id: brand.name for brand in subject.group.brands}
    listed = []
    for client in sorted(reading(subject.group_id, held), key=lambda c: c.name):
        if client.brand_ids is None:
            listed.append({"name": client.name, "brands": None})
        else:
            reach = sorted(brands[b] for b in set(client.brand_ids) & held if b in brands)
            listed.append({"name": client.name, "brands": ", ".join(reach)})
    return listed


def _iso(moment):
    return None if moment is None else moment.isoformat(timespec="seconds")


def profile_section(subject: Subject) -> list[dict]:
    """Every profile field of the group, given or not, with when it was last confirmed."""
    held = profile.fields_of(subject)
    rows = [
        {
            "field": "email",
            "value": subject.email,
            "lastConfirmed": _iso(subject.email_confirmed_at or subject.confirmed_at),
        }
    ]
    for name in profile.names_of(subject.group):
        row = held.get(name)
        value = row.value if row else None
        if name == profile.LANGUAGE:
            value = subject.language
        rows.append(
            {
                "field": name,
                "value": value,
                "lastConfirmed": _iso(row.confirmed_at) if row else None,
                "updatedAt": _iso(row.updated_at) if row else None,
                "updatedBy": row.updated_by if row else None,
                "verified": (row.verified_at is not None) if row else None,
            }
        )
    return rows


export.EXTRA_SECTIONS.setdefault("profile", profile_section)
export.EXTRA_SECTIONS.setdefault("recipients", recipients)
export.EXTRA_SECTIONS.setdefault("passkeys", passkeys.export_section)
export.EXTRA_SECTIONS.setdefault("mails", history.mails)
export.EXTRA_SECTIONS.setdefault("signInLinks", history.sign_in_links)
export.EXTRA_SECTIONS.setdefault("events", history.integrator_events)


def external_ids_section(subject: Subject) -> list[dict]:
    """The ids other systems of the group know the person by (an API client's own id)."""
    return [
        {"system": row["system"], "externalId": row["external_id"], "since": _iso(row["since"])}
        for row in external_ids.held_for(subject.id)
    ]


export.EXTRA_SECTIONS.setdefault("externalIds", external_ids_section)


@dataclass
class History:
    """One consent (topic and channel) as it stands, and every ledger entry that led there."""

    consent: Consent
    entries: list[LedgerEntry] = field(default_factory=list)


@dataclass
class MyData:
    subject: Subject
    names: list[str]
    fields: dict[str, ProfileField]
    pending_email: EmailChange | None
    consents: list[History]
    other_entries: list[LedgerEntry]
    signups: list[SignupRequest]
    recipients: list[dict]
    passkeys: list[Passkey]


def gather(subject: Subject) -> MyData:
    """Everything the "My data" page shows, from the same tables the export reads."""
    entries = db.session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.subject_id == subject.id)
        # In the order things happened: a consent captured elsewhere may arrive late.
        .order_by(LedgerEntry.occurred_at, LedgerEntry.id)
    ).all()
    held = consent.current(subject)
    histories = {key: History(row) for key, row in held.items()}
    others = []
    for entry in entries:
        history = histories.get((entry.topic_id, entry.channel))
        (history.entries if history else others).append(entry)
    ordered = sorted(
        histories.values(),
        key=lambda h: (h.consent.brand.position, h.consent.topic.position, h.consent.channel),
    )
    signups = db.session.scalars(
        select(SignupRequest)
        .where(SignupRequest.subject_id == subject.id)
        .order_by(SignupRequest.id)
    ).all()
    return MyData(
        subject=subject,
        names=profile.names_of(subject.group),
        fields=profile.fields_of(subject),
        pending_email=email_change.pending(subject),
        consents=ordered,
        other_entries=others,
        signups=list(signups),
        recipients=recipients(subject),
        passkeys=passkeys.listed(subject),
    )
