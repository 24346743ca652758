"""Consent events for the change feed and webhooks, in commit order (``integrations.events``)."""

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.kernel import clock, partitions, subject_keys
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

    Its place in the feed is (``xid``, ``id``): the writing transaction's id on PostgreSQL (0
    on SQLite, where one writer at a time makes ``id`` order commit order); a reader returns
    only events of transactions older than every one still running, so one that commits late
    is never passed over (see ``integrations.events``). ``seq`` is the group's number of an
    event written before that order came in (None since): the cursors handed out then name
    it. The payload holds identifiers, never an address or a name; what personal data an
    event must carry (a profile change's new values) is in ``personal``, encrypted like every
    personal field, and dropped when the person is erased.

    On PostgreSQL the table is partitioned by day of ``created_at`` (``kernel.partitions``):
    retention drops whole days. Its key there is (``id``, ``created_at``), and nothing
    refers to it by foreign key (a delivery names its event by ``event_id`` alone).
    """

    __tablename__ = "event"
    __table_args__ = (
        # An old cursor's event (``cursors.Legacy``): numbers were unique when they were
        # given, and none is given since; a unique constraint would have to hold created_at.
        Index(
            "ix_event_group_seq",
            "group_id",
            "seq",
            postgresql_where=text("seq IS NOT NULL"),
            sqlite_where=text("seq IS NOT NULL"),
        ),
        # The feed from a moment (``feed.cursor_at``) reads the events after it, not all.
        Index("ix_event_group_created", "group_id", "created_at"),
        # A page of the feed: the group's events after a position, in order.
        Index("ix_event_group_position", "group_id", "xid", "id"),
        # A person's events in order (their export, ``events.emit``'s look at the last one).
        Index("ix_event_subject_position", "subject_id", "xid", "id"),
        {"postgresql_partition_by": partitions.partition_by("event")},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"))
    seq: Mapped[int | None] = mapped_column(nullable=True)
    xid: Mapped[int] = mapped_column(default=0, server_default="0")
    type: Mapped[str] = mapped_column(String(20))
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brand.id"))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id"))
    # Set for an event meant for one client alone (an erasure request): no other client sees it.
    client_id: Mapped[int | None] = mapped_column(ForeignKey("api_client.id"), nullable=True)
    payload: Mapped[dict] = mapped_column(JSON)
    personal: Mapped[str | None] = mapped_column(Encrypted, nullable=True)  # JSON, merged in data
    created_at = mapped_column(UTCDateTime, default=clock.now, nullable=False)


class FeedStart(db.Model):
    """Where a group's feed starts now that retention deleted its older events: the position
    of the last event deleted (``integrations.retention``). A cursor before it may have missed
    events that are gone, so the feed refuses it and the client starts again from a time."""

    __tablename__ = "feed_start"

    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"), primary_key=True)
    xid: Mapped[int] = mapped_column()
    event_id: Mapped[int] = mapped_column()
    moved_at = mapped_column(UTCDateTime, default=clock.now)


subject_keys.personal_columns(Event, ("personal",), keys.by_subject_id)
