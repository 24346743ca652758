"""Passkeys (WebAuthn credentials) of a subject, and the challenges of ceremonies under way."""

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.kernel import clock, subject_keys
from portal.core.kernel.crypto import Encrypted
from portal.core.kernel.models.base import UTCDateTime
from portal.core.people import keys
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
    # The name the person gave it ("Marie's phone"): under the person's own key, so that an
    # erased person's device names cannot be read from old row versions or backups.
    label: Mapped[str | None] = mapped_column(Encrypted, nullable=True)
    # Where names were kept in clear before per-person keys; `flask keys per-person` moves them.
    plain_name: Mapped[str | None] = mapped_column("name", String(60), nullable=True)
    transports: Mapped[str] = mapped_column(String(120), default="")
    created_at = mapped_column(UTCDateTime, default=clock.now)
    last_used_at = mapped_column(UTCDateTime, nullable=True)

    subject = relationship("Subject")

    @property
    def name(self) -> str:
        return self.label if self.label is not None else (self.plain_name or "")

    @name.setter
    def name(self, value: str) -> None:
        self.label, self.plain_name = value, None


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


subject_keys.personal_columns(Passkey, ("label",), keys.by_subject_id)
