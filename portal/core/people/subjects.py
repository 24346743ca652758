"""Finding and creating subjects by their address, without ever storing it in clear."""

import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from portal.core.kernel import clock, subject_keys
from portal.core.kernel.crypto import keys
from portal.core.kernel.errors import InvalidInput
from portal.core.people.models.subject import PENDING, Subject
from portal.extensions import db

MAX_ADDRESS = 254  # RFC 5321 path limit less the angle brackets


def mailable(valid) -> bool:
    """Whether mail can reach a validated address. International domains always can (they go
    out as IDNA, "xn--"); characters beyond ASCII before the @ need the SMTP server's SMTPUTF8
    (RFC 6531), promised by ``MAIL_SMTPUTF8``. Unknown counts as no: an address we cannot mail
    would leave its owner unable to confirm, sign in or erase themselves."""
    return valid.ascii_email is not None or current_app.config["MAIL_SMTPUTF8"]


def normalise_email(raw: str) -> str:
    """The canonical form of an address, used for the keyed hash; raises InvalidInput, also
    for an address we could accept but never mail (see ``mailable``)."""
    if raw is None or not raw.strip():
        raise InvalidInput("email", _l("Enter your email address."))
    if "\r" in raw or "\n" in raw:
        raise InvalidInput("email", _l("The address must not contain line breaks."))
    value = raw.strip()
    if len(value) > MAX_ADDRESS:
        raise InvalidInput("email", _l("The address is too long (254 characters at most)."))
    if _plain(value):
        return value.lower()
    try:
        valid = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidInput(
            "email", _l("Enter a valid email address, like name@example.com.")
        ) from None
    if not mailable(valid):
        raise InvalidInput(
            "email",
            _l(
                "We cannot send mail to an address with accents or other non-ASCII characters "
                "before the @. Please use another address."
            ),
        )
    # Mailbox providers treat the local part case-insensitively in practice; one person, one row.
    return valid.normalized.lower()


# Plain ASCII addresses, the vast majority of an audience: dot-atom local part, LDH domain.
_PLAIN = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
    re.IGNORECASE,
)


def _plain(value: str) -> bool:
    """Whether the validator would take ``value`` as it is, known without its full cost: a
    plain ASCII address (dot-atom local part of at most 64 characters, LDH domain without
    Punycode, which it would turn into Unicode) whose domain it has taken before. Most of
    the cost of validating an address is its domain, and the addresses of a bulk request
    share a few domains. ``tests/core/test_addresses.py`` holds the two ways equal."""
    if not _PLAIN.fullmatch(value) or "xn--" in value.lower():
        return False
    local, _, domain = value.rpartition("@")
    return len(local) <= 64 and _valid_domain(domain.lower())


@lru_cache(maxsize=4096)
def _valid_domain(domain: str) -> bool:
    """The validator's verdict on a plain ASCII domain (special-use names, lengths, TLD)."""
    try:
        validate_email(f"x@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def lookup_form(raw: str) -> str | None:
    """The normalised address for a read-only lookup, or None when it cannot be an address.

    Plain addresses take a fast path (email_validator costs about 0.3 ms each, too slow for a
    10,000-address audience); anything else goes through ``normalise_email``. An address the
    fast path lets through that the validator would refuse cannot belong to a subject, so a
    lookup still answers "unknown" for it: never use this to create a subject.
    """
    value = raw.strip()
    if len(value) <= MAX_ADDRESS and _PLAIN.fullmatch(value):
        return value.lower()
    try:
        return normalise_email(raw)
    except InvalidInput:
        return None


def address_hash(group_id: int, address: str) -> str:
    """Keyed hash of a normalised address, scoped to one group."""
    return address_hashes(group_id, [address])[0]


def address_hashes(group_id: int, addresses: list[str | None]) -> list[str | None]:
    """``address_hash`` of many addresses at once (None stays None), for audiences and imports."""
    keyed_hash = keys().keyed_hash
    return [None if a is None else keyed_hash(f"{group_id}:{a}") for a in addresses]


def find(group_id: int, address: str) -> Subject | None:
    return db.session.scalar(
        select(Subject).where(
            Subject.group_id == group_id, Subject.email_hash == address_hash(group_id, address)
        )
    )


def find_or_create(group_id: int, address: str, language: str) -> Subject:
    """The group's subject at ``address``, made (pending) if there is none.

    Made with INSERT ... ON CONFLICT DO NOTHING: when the same new address arrives twice at
    once (a double-clicked "Join"), the second insert waits for the first and then finds its
    row, instead of failing on the unique index."""
    subject = find(group_id, address)
    if subject is None:
        dialect = db.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        made = db.session.execute(
            insert(Subject)
            .values(
                group_id=group_id,
                email_hash=address_hash(group_id, address),
                key_ref=(ref := subject_keys.new_key(db.session)),
                email=subject_keys.seal(ref, address),
                status=PENDING,
                language=language,
                created_at=(now := clock.now()),
                active_at=now,
            )
            .on_conflict_do_nothing(index_elements=["group_id", "email_hash"])
        )
        if not made.rowcount:  # made meanwhile by the other request: its key is the one
            subject_keys.discard(db.session, ref)
        subject = find(group_id, address)
    return subject


def was_active(times: Mapping[int | None, datetime]) -> None:
    """Each person (id) did something at the time given (see ``lifecycle.activity``): their
    ``active_at`` moves on to it, never back. One statement, executed for every person at
    once. A consent change calls it after its ledger rows, whose writing took these people's
    locks already."""
    rows = [{"person": i, "at": at} for i, at in sorted(times.items()) if i is not None]
    if not rows:
        return
    db.session.execute(
        update(Subject.__table__)
        .where(Subject.id == bindparam("person"))
        .where(or_(Subject.active_at.is_(None), Subject.active_at < bindparam("at")))
        .values(active_at=bindparam("at")),
        rows,
    )
