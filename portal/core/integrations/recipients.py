"""Recipients of personal data: API clients an owner recorded processing terms for.

A processor may receive personal data only once it has committed to terms like the
controller's own (GDPR Art. 28(3), and Art. 28(4) for sub-processors). So a client without
accepted terms gets no personal data from the API (``RECEIVES_NOTHING``), and only recipients
are asked to erase their copies when a person is erased (``erasure_requests``).

Terms are versioned like consent texts: recording new terms adds a version and never edits an
earlier one, so the record shows which terms applied to each erasure request.
"""

from datetime import date

from sqlalchemy import func, select

from portal.core.integrations.models.api import ApiClient
from portal.core.integrations.models.recipients import RecipientTerms
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidInput
from portal.extensions import db

MAX_TERMS = 2000
RECEIVES_NOTHING = (
    "This client has no accepted processing terms, so it receives no personal data. "
    "An owner of the group records the terms it agreed to in the console (API clients)."
)


def is_recipient(client: ApiClient) -> bool:
    return client.terms_version is not None


def record_terms(client: ApiClient, text: str, agreed_on: date | None, by: str) -> RecipientTerms:
    """Add a version of ``client``'s processing terms, in the caller's transaction (the console
    audits it there). Raises InvalidInput for an empty or long text or a missing or future
    date."""
    text = (text or "").strip()
    if not text or len(text) > MAX_TERMS:
        raise InvalidInput("text", f"Give the terms' text (at most {MAX_TERMS} characters).")
    if agreed_on is None or agreed_on > clock.now().date():
        raise InvalidInput("agreed_on", "Give the date the terms were agreed (not in the future).")
    if client.revoked_at is not None:
        raise InvalidInput("text", "A revoked client receives nothing: terms cannot be added.")
    latest = db.session.scalar(
        select(func.max(RecipientTerms.version)).where(RecipientTerms.client_id == client.id)
    )
    terms = RecipientTerms(
        client_id=client.id,
        version=(latest or 0) + 1,
        text=text,
        agreed_on=agreed_on,
        recorded_by=by,
        recorded_at=clock.now(),
    )
    db.session.add(terms)
    client.terms_version = terms.version
    db.session.flush()
    return terms


def terms_of(client: ApiClient) -> list[RecipientTerms]:
    """Every version of the client's terms, newest first."""
    return list(
        db.session.scalars(
            select(RecipientTerms)
            .where(RecipientTerms.client_id == client.id)
            .order_by(RecipientTerms.version.desc())
        )
    )


def reading(group_id: int, brands: set[int]) -> list[ApiClient]:
    """The live recipients that could read a person of ``group_id`` who is (or was) with
    ``brands``: every client of the whole group, and clients limited to brands only where the
    person was with one of them (the rule of the API's brand walls)."""
    rows = db.session.scalars(
        select(ApiClient)
        .where(
            ApiClient.group_id == group_id,
            ApiClient.revoked_at.is_(None),
            ApiClient.terms_version.is_not(None),
        )
        .order_by(ApiClient.id)
    )
    return [c for c in rows if c.brand_ids is None or brands & set(c.brand_ids)]
