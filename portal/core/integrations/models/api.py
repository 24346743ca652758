"""Integrating systems: API clients, their idempotency records and webhook endpoints."""

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.kernel import clock, partitions, subject_keys
from portal.core.kernel.crypto import Encrypted
from portal.core.kernel.models.base import UTCDateTime
from portal.core.kernel.models.queued import QueuedWork, due_index
from portal.core.people import keys
from portal.extensions import db

SCOPES = (
    "consent:read",
    "consent:write",
    "subjects:erase",
    "events:read",
    "profile:read",
    "profile:write",
)

# Webhook delivery states
DELIVERED = "delivered"


class ApiClient(db.Model):
    """A system that talks to one site group through the API, with a key stored only as a hash."""

    __tablename__ = "api_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    # The key is "<prefix>.<secret>"; the prefix finds the row, the SHA-256 proves the secret.
    key_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    # The key it had before a rotation, still accepted until ``previous_key_until`` or until it
    # is retired, so the client's servers can move to the new key one by one.
    previous_key_prefix: Mapped[str | None] = mapped_column(String(16), unique=True)
    previous_key_hash: Mapped[str | None] = mapped_column(String(64))
    previous_key_until = mapped_column(UTCDateTime, nullable=True)
    scopes: Mapped[list] = mapped_column(JSON)
    brand_ids: Mapped[list | None] = mapped_column(JSON)  # None: every brand of the group
    # Set by the group's owner: its email grants need no double opt-in.
    verified_source: Mapped[bool] = mapped_column(default=False)
    # The version of the processing terms in force (``RecipientTerms``); None: not a recipient,
    # so the API gives it no personal data (see ``integrations.recipients``).
    terms_version: Mapped[int | None] = mapped_column(nullable=True)
    created_at = mapped_column(UTCDateTime, default=clock.now)
    revoked_at = mapped_column(UTCDateTime, nullable=True)
    last_used_at = mapped_column(UTCDateTime, nullable=True)

    group = relationship("SiteGroup")

    def may_see(self, brand_id: int | None) -> bool:
        return self.brand_ids is None or brand_id is None or brand_id in self.brand_ids


class IdempotencyRecord(db.Model):
    """The answer given to one write, so that a retry with the same key gets it again."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("client_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_client.id"))
    key: Mapped[str] = mapped_column(String(200))
    # HMAC-SHA-256 (hash key) of method, path and body: no plain hash of what was asked.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column()
    # Answers may hold a webhook secret or an address: under a one-off key (``idempotency``).
    response: Mapped[str] = mapped_column(Encrypted)
    created_at = mapped_column(UTCDateTime, default=clock.now)


class ExternalId(db.Model):
    """A client's own identifier for a subject (its CRM's customer number): one per subject and
    client, unique within the client, seen by that client alone. A row naming the subject,
    so erasure deletes it with the person (``people.erasure``).

    A customer number names a person as an address does: it is found by its keyed hash (the
    hash key, as subjects are found by address) and kept under the person's own key, so that
    an erased person's ids cannot be read from old row versions or backups."""

    __tablename__ = "external_id"
    __table_args__ = (
        UniqueConstraint("client_id", "value_hash"),
        UniqueConstraint("client_id", "value"),
        UniqueConstraint("client_id", "subject_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_client.id"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    # HMAC-SHA-256 (hash key) of the client and the value (``external_ids.value_hash``).
    value_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The value, under the person's own key (``subject_keys.personal_columns``).
    sealed: Mapped[str | None] = mapped_column("sealed_value", Encrypted, nullable=True)
    # Where values were kept in clear before; `flask keys per-person` moves them.
    plain_value: Mapped[str | None] = mapped_column("value", String(100), nullable=True)
    created_at = mapped_column(UTCDateTime, default=clock.now)

    client = relationship("ApiClient")

    @property
    def value(self) -> str | None:
        return self.sealed if self.sealed is not None else self.plain_value


class WebhookEndpoint(db.Model):
    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_client.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(Encrypted)  # needed in clear to sign, so encrypted
    # The secret before a rotation: deliveries carry its signature too until this time.
    previous_secret: Mapped[str | None] = mapped_column(Encrypted, nullable=True)
    previous_secret_until = mapped_column(UTCDateTime, nullable=True)
    created_at = mapped_column(UTCDateTime, default=clock.now)
    disabled_at = mapped_column(UTCDateTime, nullable=True)

    client = relationship("ApiClient")


class WebhookDelivery(QueuedWork, db.Model):
    """One event owed to one endpoint; the worker sends it with a lease, like the mail outbox.

    On PostgreSQL partitioned by day of ``created_at``, like events (``kernel.partitions``).
    """

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        due_index("ix_webhook_due"),
        # A delivery's turn: is an earlier one about the same person to the same endpoint
        # still queued? (``webhooks._in_order``), one index probe per delivery claimed.
        Index("ix_webhook_delivery_order", "endpoint_id", "subject_id", "status", "id"),
        # Retention (``integrations.retention``): the oldest deliveries, those of an event.
        Index("ix_webhook_delivery_created", "created_at"),
        Index("ix_webhook_delivery_event", "event_id"),
        {"postgresql_partition_by": partitions.partition_by("webhook_delivery")},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id"), index=True)
    # No foreign key: a key into a partitioned table would have to name the event's
    # created_at too. Retention deletes a delivery with its event, never the event first.
    event_id: Mapped[int] = mapped_column()
    # The person the event is about (copied from it, no foreign key: the order of what is
    # owed stays kept after an erasure), None for events about no one.
    subject_id: Mapped[int | None] = mapped_column(nullable=True)
    last_status: Mapped[int | None] = mapped_column()
    created_at = mapped_column(UTCDateTime, default=clock.now, nullable=False)
    delivered_at = mapped_column(UTCDateTime, nullable=True)

    endpoint = relationship("WebhookEndpoint")
    event = relationship("Event", primaryjoin="foreign(WebhookDelivery.event_id) == Event.id")


subject_keys.personal_columns(ExternalId, ("sealed",), keys.by_subject_id)
subject_keys.one_off_columns(IdempotencyRecord, ("response",))
