"""The mechanics of a WebAuthn ceremony: who the relying party is, the single-use challenges
held for a session, and how the library's refusals read (see passkeys.py for the rules)."""

import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import delete
from webauthn.helpers import base64url_to_bytes
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

from portal.core.kernel import clock
from portal.core.kernel.models.group import SiteGroup
from portal.core.kernel.transaction import transaction
from portal.core.people.models.passkey import Passkey, PasskeyChallenge
from portal.core.people.models.subject import Subject
from portal.extensions import db

REGISTER, SIGN_IN, CONFIRM = "register", "sign-in", "confirm"
CHALLENGE_MAX_AGE = timedelta(minutes=5)
# Whatever the library finds wrong in an answer, and whatever malformed JSON makes it raise.
LIBRARY_ERRORS = (WebAuthnException, ValueError, TypeError, KeyError, AttributeError)


class PasskeyRefused(Exception):
    """An answer that cannot be accepted: ``reason`` is "expired" (no live challenge of this
    session), "invalid" (the signature, origin, challenge or counter is wrong) or "unknown"
    (no passkey of this site group, or of the signed-in person, has this id)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RelyingParty:
    id: str
    name: str
    origins: list[str]


def relying_party(group: SiteGroup) -> RelyingParty:
    """PASSKEY_RP_ID and PASSKEY_ORIGINS, each defaulting to what PORTAL_BASE_URL says."""
    config = current_app.config
    base = urlsplit(config["PORTAL_BASE_URL"])
    origins = config.get("PASSKEY_ORIGINS") or [f"{base.scheme}://{base.netloc}"]
    return RelyingParty(config.get("PASSKEY_RP_ID") or base.hostname or "", group.name, origins)


def new_challenge(purpose: str, subject: Subject | None, replaces: int | None) -> tuple:
    """Store a fresh challenge (dropping the session's previous one and any stale ones)."""
    with transaction():
        stale = clock.now() - 2 * CHALLENGE_MAX_AGE
        db.session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.created_at < stale))
        if isinstance(replaces, int):
            db.session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.id == replaces))
        row = PasskeyChallenge(
            purpose=purpose,
            challenge=secrets.token_bytes(32),
            subject_id=subject.id if subject else None,
            created_at=clock.now(),
        )
        db.session.add(row)
    return row.id, row.challenge


def take_challenge(challenge_id, purpose: str, subject: Subject | None) -> bytes:
    """The session's challenge, deleted in the same step: a second answer finds nothing."""
    if not isinstance(challenge_id, int):
        raise PasskeyRefused("expired")
    with transaction():
        row = db.session.get(PasskeyChallenge, challenge_id)
        held = (row.purpose, row.subject_id, row.created_at, row.challenge) if row else None
        taken = db.session.execute(
            delete(PasskeyChallenge).where(PasskeyChallenge.id == challenge_id)
        ).rowcount
    if not taken or held is None:
        raise PasskeyRefused("expired")
    held_purpose, held_subject, created_at, challenge = held
    fresh = clock.now() - created_at <= CHALLENGE_MAX_AGE
    if not fresh or held_purpose != purpose or held_subject != (subject.id if subject else None):
        raise PasskeyRefused("expired")
    return challenge


def descriptors(passkeys: list[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    known = {t.value for t in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=p.credential_id,
            transports=[AuthenticatorTransport(t) for t in p.transports.split() if t in known],
        )
        for p in passkeys
    ]


def credential_id(credential) -> bytes:
    raw = credential.get("rawId") if isinstance(credential, dict) else None
    try:
        return base64url_to_bytes(raw) if isinstance(raw, str) else b""
    except ValueError:
        return b""
