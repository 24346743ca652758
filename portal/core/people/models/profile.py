"""Contact details a subject gives beyond their address: one generic row per named field."""

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.kernel import clock, subject_keys
from portal.core.kernel.crypto import Encrypted
from portal.core.kernel.models.base import UTCDateTime
from portal.core.people import keys
from portal.extensions import db


class ProfileField(db.Model):
    """One named value of a subject (``mobile_number``, ``postal_address``...), encrypted.

    ``verified_at`` stays empty until the value is proven to reach the person (a phone number
    is stored unverified: there is no SMS gateway to send a code through).
    """

    __tablename__ = "profile_field"
    # (name, confirmed): the freshness rule reads the fields due by a range of it.
    __table_args__ = (
        UniqueConstraint("subject_id", "name"),
        Index("ix_profile_field_name_confirmed_at", "name", "confirmed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(Encrypted)
    verified_at = mapped_column(UTCDateTime, nullable=True)
    confirmed_at = mapped_column(UTCDateTime, default=clock.now)
    updated_at = mapped_column(UTCDateTime, default=clock.now)
    updated_by: Mapped[str] = mapped_column(String(80))


class EmailChange(db.Model):
    """A new address waiting for its owner to confirm it; the link's token names this row.

    Nothing about the subject changes until then. The row is deleted once confirmed, when a
    newer request replaces it, and with the subject on erasure.
    """

    __tablename__ = "email_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    new_email: Mapped[str] = mapped_column(Encrypted)
    created_at = mapped_column(UTCDateTime, default=clock.now)

    subject = relationship("Subject")


subject_keys.personal_columns(ProfileField, ("value",), keys.by_subject_id)
subject_keys.personal_columns(EmailChange, ("new_email",), keys.by_subject_id)
