"""Passkeys (WebAuthn): a lite account becomes a full one, with no password and no mail wait.

A passkey is worth a fresh magic link: both prove the person is here now (the mailbox, or the
device with its screen lock). The ceremonies follow WebAuthn Level 2 (section 7) through the
``webauthn`` library: attestation is not asked for ("none": the portal trusts no maker more
than another), user verification is required, each challenge is single use (its row is deleted
when the answer comes, accepted or not) and sign counters are checked against the stored one,
so an answer replayed, or made by a cloned authenticator, is refused.
"""

import webauthn
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from portal.core.kernel import clock, crypto
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.models.group import SiteGroup
from portal.core.kernel.transaction import commit_session
from portal.core.people import subjects
from portal.core.people.models.passkey import Passkey
from portal.core.people.models.subject import ERASED, Subject
from portal.core.people.passkey_ceremony import (
    CONFIRM,
    LIBRARY_ERRORS,
    REGISTER,
    SIGN_IN,
    PasskeyRefused,
    credential_id,
    descriptors,
    new_challenge,
    relying_party,
    take_challenge,
)
from portal.extensions import db

NAME_MAX = 60


def listed(subject: Subject) -> list[Passkey]:
    return list(
        db.session.scalars(
            select(Passkey).where(Passkey.subject_id == subject.id).order_by(Passkey.id)
        )
    )


def _user_handle(subject: Subject, mine: list[Passkey]) -> bytes:
    """The WebAuthn user handle: the same for all of a person's passkeys (so an authenticator
    keeps one per person), opaque (a keyed hash, never the address or the id)."""
    if mine:
        return mine[0].user_handle
    return bytes.fromhex(crypto.keys().keyed_hash(f"passkey-user:{subject.id}"))


def _transports(credential) -> str:
    """What the browser said the authenticator speaks, kept as a hint for later sign-ins."""
    response = credential.get("response") if isinstance(credential, dict) else None
    given = response.get("transports") if isinstance(response, dict) else None
    known = {t.value for t in AuthenticatorTransport}
    if not isinstance(given, list):
        return ""
    return " ".join(t for t in given if isinstance(t, str) and t in known)[:120]


def registration_options(subject: Subject, replaces: int | None = None) -> tuple[int, str]:
    """Options for ``navigator.credentials.create()``; returns (challenge id, options JSON).

    A discoverable credential (so the sign-in page needs no address), the person's other
    passkeys excluded (one per authenticator), no attestation asked for.
    """
    rp = relying_party(subject.group)
    mine = listed(subject)
    challenge_id, challenge = new_challenge(REGISTER, subject, replaces)
    options = webauthn.generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=_user_handle(subject, mine),
        user_name=subject.email,
        user_display_name=subject.email,
        challenge=challenge,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=descriptors(mine),
    )
    return challenge_id, webauthn.options_to_json(options)


def check_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise InvalidInput("name", _l("Give this passkey a name, such as the device it is on."))
    if len(cleaned) > NAME_MAX:
        raise InvalidInput("name", _l("The name is too long (60 characters at most)."))
    return cleaned


def register(subject: Subject, challenge_id, credential, name: str) -> Passkey:
    """Check the browser's answer to ``registration_options`` and keep the new passkey.

    Raises InvalidInput for the name, PasskeyRefused for the answer (the challenge is spent).
    """
    cleaned = check_name(name)
    challenge = take_challenge(challenge_id, REGISTER, subject)
    rp = relying_party(subject.group)
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origins,
            require_user_verification=True,
        )
    except LIBRARY_ERRORS:
        raise PasskeyRefused("invalid") from None
    mine = listed(subject)
    taken = db.session.scalar(
        select(Passkey.id).where(Passkey.credential_id == verified.credential_id)
    )
    if taken is not None:
        raise PasskeyRefused("invalid")
    passkey = Passkey(
        subject_id=subject.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        user_handle=_user_handle(subject, mine),
        sign_count=verified.sign_count,
        name=cleaned,
        transports=_transports(credential),
        created_at=clock.now(),
    )
    try:
        with commit_session():
            db.session.add(passkey)
            subjects.was_active({subject.id: passkey.created_at})
    except IntegrityError:  # the same credential registered at the same moment elsewhere
        raise PasskeyRefused("invalid") from None
    return passkey


def sign_in_options(group: SiteGroup, subject: Subject | None = None, replaces=None):
    """Options for ``navigator.credentials.get()``; returns (challenge id, options JSON).

    With no ``subject`` (the sign-in page) any passkey of the site may answer: the browser
    offers the person's discoverable credentials. With one (confirming it is you before a
    sensitive page) only that person's passkeys are asked for, and only they are accepted.
    """
    rp = relying_party(group)
    purpose = CONFIRM if subject else SIGN_IN
    challenge_id, challenge = new_challenge(purpose, subject, replaces)
    options = webauthn.generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        allow_credentials=descriptors(listed(subject)) if subject else [],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return challenge_id, webauthn.options_to_json(options)


def sign_in(group: SiteGroup, challenge_id, credential, subject: Subject | None = None) -> Subject:
    """Check the browser's answer to ``sign_in_options``; returns whom the passkey proves.

    The sign counter must move forward (unless the authenticator keeps none: both zero); the
    new value is written only if no other sign-in moved it meanwhile. Raises PasskeyRefused.
    """
    challenge = take_challenge(challenge_id, CONFIRM if subject else SIGN_IN, subject)
    passkey = db.session.scalar(
        select(Passkey)
        .join(Subject)
        .where(
            Passkey.credential_id == credential_id(credential),
            Subject.group_id == group.id,
            Subject.status != ERASED,
        )
    )
    if passkey is None or (subject is not None and passkey.subject_id != subject.id):
        raise PasskeyRefused("unknown")
    rp = relying_party(group)
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origins,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except LIBRARY_ERRORS:
        raise PasskeyRefused("invalid") from None
    counted = verified.new_sign_count
    with commit_session():
        moved = db.session.execute(
            update(Passkey)
            .where(Passkey.id == passkey.id, Passkey.sign_count == passkey.sign_count)
            .values(sign_count=counted, last_used_at=(now := clock.now()))
            .execution_options(synchronize_session=False)
        ).rowcount
        if not moved:
            raise PasskeyRefused("invalid")
        subjects.was_active({passkey.subject_id: now})
    db.session.refresh(passkey)
    return passkey.subject


def remove(subject: Subject, passkey_id: int) -> bool:
    """Delete one of the person's passkeys; False when it is not theirs (or already gone).

    The authenticator still holds its private key, but nothing here accepts it any more.
    """
    with commit_session():
        removed = db.session.execute(
            delete(Passkey).where(Passkey.id == passkey_id, Passkey.subject_id == subject.id)
        ).rowcount
    return bool(removed)


def _iso(moment):
    return None if moment is None else moment.isoformat(timespec="seconds")


def export_section(subject: Subject) -> list[dict]:
    """The passkeys in the export: what identifies each (never a secret: there is none here)."""
    return [
        {
            "name": p.name,
            "credentialId": bytes_to_base64url(p.credential_id),
            "createdAt": _iso(p.created_at),
            "lastUsedAt": _iso(p.last_used_at),
            "erasedWithYou": True,
        }
        for p in listed(subject)
    ]


__all__ = ["CONFIRM", "REGISTER", "SIGN_IN", "PasskeyRefused", "relying_party"]
