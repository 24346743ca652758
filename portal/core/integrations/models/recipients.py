"""Recipients of personal data: the processing terms each agreed to, and the erasure requests
sent to them with their answers. Nothing here names a person beyond the former subject id the
recipient already held."""

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.kernel import clock
from portal.core.kernel.models.base import UTCDateTime
from portal.extensions import db

# A recipient's answer to an erasure request.
DONE, NOT_HELD = "done", "not_held"
ANSWERS = (DONE, NOT_HELD)


class RecipientTerms(db.Model):
    """One version of the processing terms an API client agreed to. Never edited: recording new
    terms adds a version, as consent texts do, so the record shows what applied when."""

    __tablename__ = "recipient_terms"
    __table_args__ = (UniqueConstraint("client_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_client.id"), index=True)
    version: Mapped[int] = mapped_column()
    text: Mapped[str] = mapped_column(String(2000))
    agreed_on = mapped_column(Date)  # the date the recipient signed (the paper's date)
    recorded_by: Mapped[str] = mapped_column(String(80))  # admin:<id> or cli
    recorded_at = mapped_column(UTCDateTime, default=clock.now)


class ErasureRequest(db.Model):
    """An erasure owed by one recipient: sent in the feed and by webhook, answered through the
    API. ``subject_ref`` (not ``subject_id``) so that erasure's purge of every table naming a
    subject leaves these rows alone: they are the record that copies were destroyed."""

    __tablename__ = "erasure_request"
    __table_args__ = (
        UniqueConstraint("erasure_id", "client_id"),
        Index("ix_erasure_request_open", "answered_at", "last_sent_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    erasure_id: Mapped[str] = mapped_column(ForeignKey("erasure_record.id"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_client.id"), index=True)
    client_name: Mapped[str] = mapped_column(String(80))  # as named when asked
    terms_version: Mapped[int] = mapped_column()
    subject_ref: Mapped[int] = mapped_column()  # the id the recipient knew the person by
    requested_at = mapped_column(UTCDateTime, default=clock.now)
    last_sent_at = mapped_column(UTCDateTime, default=clock.now)
    sends: Mapped[int] = mapped_column(default=1)
    answered_at = mapped_column(UTCDateTime, nullable=True)
    answer: Mapped[str | None] = mapped_column(String(10))
    reference: Mapped[str | None] = mapped_column(String(200))

    client = relationship("ApiClient")
