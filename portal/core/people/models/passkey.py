"""Passkeys (WebAuthn credentials) of a subject, and the challenges of ceremonies under way."""

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.kernel import clock
from portal.core.kernel.models.base import UTCDateTime
from portal.extensions import db


class Passkey(db.Model):
    """One credential a person registered: its public key, never a secret.

    Personal data (it says which devices the person uses and when): listed in My data and the
    export, and deleted with the subject (its ``subject_id`` puts it in the erasure's reach).
    """

    __tablename__ = "passkey"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    # The WebAuthn user handle: random, one per subject, never the address or the id.
    user_handle: Mapped[bytes] = mapped_column(LargeBinary(64))
    # An unsigned 32-bit counter in WebAuthn: beyond what a 32-bit signed integer holds.
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(60))
    transports: Mapped[str] = mapped_column(String(120), default="")
    created_at = mapped_column(UTCDateTime, default=clock.now)
    last_used_at = mapped_column(UTCDateTime, nullable=True)

    subject = relationship("Subject")


class PasskeyChallenge(db.Model):
    """A challenge handed to the browser for one ceremony; the session holds its id.

    The row is deleted when the answer comes, whether it is accepted or not, so a challenge
    is used at most once even if an old session cookie is sent again.
    """

    __tablename__ = "passkey_challenge"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(12))
    challenge: Mapped[bytes] = mapped_column(LargeBinary(64))
    # Set for a registration or a confirmation: only that subject may answer it.
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id"), index=True)
    created_at = mapped_column(UTCDateTime, default=clock.now, index=True)
