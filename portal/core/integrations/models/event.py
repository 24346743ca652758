"""Consent events for the change feed and webhooks, numbered per site group in commit order."""

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.kernel import clock, subject_keys
from portal.core.kernel.crypto import Encrypted
from portal.core.kernel.models.base import UTCDateTime
from portal.core.people import keys
from portal.extensions import db

CONSENT_CHANGED, SUBJECT_ERASED, PROFILE_UPDATED = (
    "consent.changed",
    "subject.erased",
    "profile.updated",
)
# Addressed to one recipient only (``Event.client_id``), whatever types its webhooks chose.
ERASURE_REQUESTED = "erasure.requested"
# A test delivery to one endpoint of one client (``webhook_ops.ping``); never in the feed.
WEBHOOK_PING = "webhook.ping"
EVENT_TYPES = (CONSENT_CHANGED, SUBJECT_ERASED, PROFILE_UPDATED)


class Event(db.Model):
    """Something an integrating system must hear about.

    ``seq`` is taken under the site group's row lock (see ``integrations.events``), so events
    become visible in ``seq`` order and a reader after ``seq`` N never misses one that commits
    late. The payload holds identifiers, never an address or a name; what personal data an
    event must carry (a profile change's new values) is in ``personal``, encrypted like every
    personal field, and dropped when the person is erased.
    """

    __tablename__ = "event"
    __table_args__ = (
        UniqueConstraint("group_id", "seq"),
        # The feed from a moment (``feed.cursor_at``) reads the events after it, not all.
        Index("ix_event_group_created", "group_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"))
    seq: Mapped[int] = mapped_column()
    type: Mapped[str] = mapped_column(String(20))
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brand.id"))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id"), index=True)
    # Set for an event meant for one client alone (an erasure request): no other client sees it.
    client_id: Mapped[int | None] = mapped_column(ForeignKey("api_client.id"), nullable=True)
    payload: Mapped[dict] = mapped_column(JSON)
    personal: Mapped[str | None] = mapped_column(Encrypted, nullable=True)  # JSON, merged in data
    created_at = mapped_column(UTCDateTime, default=clock.now)


subject_keys.personal_columns(Event, ("personal",), keys.by_subject_id)
