"""Webhooks: endpoints a client registers, and signed deliveries sent by the outbox worker.

Deliveries are queued in the transaction that writes the event (``events.emit``); the worker
claims due rows with a lease, like the mail outbox, and retries failures with the same back-off.
A receiver that is down loses nothing: its deliveries wait, then fail only after the last
attempt, kept for inspection.

Signature: header ``Portal-Signature: t=<unix seconds>,v1=<hex HMAC-SHA-256>`` over
``f"{t}.{body}"`` with the endpoint's secret. A receiver checks it with ``verify`` and rejects
a timestamp outside the replay window (``REPLAY_WINDOW``), so a captured delivery cannot be
played back later. While a rotated secret's overlap lasts, the header carries a second ``v1``,
made with the previous secret, last (``webhook_ops.rotate_secret``).

Order: deliveries to one endpoint about one person go one at a time, in the order of their
events; a delivery waits while an earlier one about the same person to the same endpoint is
still queued (waiting for its first attempt or a retry). Once it is delivered or has failed
every attempt, the next goes. Deliveries about different people are not ordered.
"""

import hashlib
import hmac
import json
import logging
import secrets
import uuid
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import aliased

from portal.core.integrations import destinations, events, pinned
from portal.core.integrations.models.api import (
    DELIVERED,
    ApiClient,
    WebhookDelivery,
    WebhookEndpoint,
)
from portal.core.integrations.models.event import EVENT_TYPES, Event
from portal.core.kernel import clock, leases
from portal.core.kernel.errors import InvalidInput, NotFound
from portal.core.kernel.leases import Pass
from portal.core.kernel.models.queued import QUEUED
from portal.extensions import db

log = logging.getLogger(__name__)
REPLAY_WINDOW = 300  # seconds a receiver should accept a signature's timestamp
HEADER = "Portal-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def signature_header(endpoint: WebhookEndpoint, timestamp: int, body: bytes) -> str:
    """The header of one delivery: the current secret's ``v1``, then during a rotation's
    overlap the previous secret's (last, so a receiver that reads only the last ``v1`` keeps
    verifying with the old secret until it moves to the new one)."""
    header = sign(endpoint.secret, timestamp, body)
    until = endpoint.previous_secret_until
    if endpoint.previous_secret and until is not None and clock.now() < until:
        header += "," + sign(endpoint.previous_secret, timestamp, body).split(",", 1)[1]
    return header


def verify(secret: str, header: str, body: bytes, now: float, window: int = REPLAY_WINDOW) -> bool:
    """The reference check for receivers: a genuine signature with a fresh timestamp. Any of
    the header's ``v1`` values may match (two during a secret rotation's overlap)."""
    try:
        items = [item.strip().split("=", 1) for item in (header or "").split(",")]
        timestamps = [value for name, value in items if name == "t"]
        timestamp = int(timestamps[0]) if len(timestamps) == 1 and timestamps[0].isascii() else None
        # compare_digest refuses non-ASCII text
        signatures = [value.encode("ascii") for name, value in items if name == "v1"]
    except (ValueError, UnicodeEncodeError):
        return False
    if timestamp is None or not signatures or abs(now - timestamp) > window:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1].encode()
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    allowed = {"https"} | ({"http"} if current_app.config["WEBHOOKS_ALLOW_INSECURE"] else set())
    if parts.scheme not in allowed or not parts.hostname:
        raise InvalidInput("url", _l("A webhook URL must be an https:// address."))
    if parts.username or parts.password:
        raise InvalidInput("url", _l("A webhook URL must not carry a user name or password."))
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number in range
        destinations.check_registration(url)
    except ValueError:
        raise InvalidInput("url", _l("A webhook URL must have a valid port.")) from None
    except destinations.Refused:
        raise InvalidInput(
            "url",
            _l(
                "A webhook URL must point to a public internet address, not to a loopback, "
                "private, link-local, multicast or reserved one."
            ),
        ) from None
    return url


def register(client: ApiClient, url: str, types: list[str]) -> tuple[WebhookEndpoint, str]:
    """A new endpoint for ``client``; returns it with its signing secret, shown only now."""
    if not types or any(t not in EVENT_TYPES for t in types):
        raise InvalidInput("events", _l("Choose event types among the documented ones."))
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        client_id=client.id,
        url=_check_url(url),
        event_types=sorted(set(types)),
        secret=secret,
        created_at=clock.now(),
    )
    db.session.add(endpoint)
    db.session.flush()
    return endpoint, secret


def endpoints(client: ApiClient) -> list[WebhookEndpoint]:
    return list(
        db.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.client_id == client.id, WebhookEndpoint.disabled_at.is_(None))
            .order_by(WebhookEndpoint.id)
        )
    )


def remove(client: ApiClient, endpoint_id: int) -> None:
    """Stop deliveries to an endpoint of ``client`` (kept, disabled, with its delivery log)."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.client_id != client.id or endpoint.disabled_at is not None:
        raise NotFound("webhook")
    endpoint.disabled_at = clock.now()


def deliveries(client: ApiClient, endpoint_id: int, limit: int = 50) -> list[WebhookDelivery]:
    """The latest deliveries of an endpoint of ``client``: status, attempts, last error."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.client_id != client.id:
        raise NotFound("webhook")
    return list(
        db.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


def _in_order():
    """No earlier delivery about the same person to the same endpoint is still queued."""
    earlier = aliased(WebhookDelivery)
    return or_(
        WebhookDelivery.subject_id.is_(None),
        ~exists().where(
            earlier.endpoint_id == WebhookDelivery.endpoint_id,
            earlier.subject_id == WebhookDelivery.subject_id,
            earlier.status == QUEUED,
            earlier.id < WebhookDelivery.id,
        ),
    )


def _claim(owner: str, limit: int) -> list:
    return leases.claim(WebhookDelivery, owner, limit, _in_order())


# What the delivery log says. Kept this general on purpose: "connection refused" against
# "timed out" against "TLS failed" would let a client map ports of any host it can name.
UNREACHABLE = "The receiver could not be reached."
NOT_PUBLIC = "The receiver's address is not a public internet address."


def _post(endpoint: WebhookEndpoint, event: Event) -> int:
    """Send one event; the HTTP status. Raises ``destinations.Refused`` for an address inside
    the network and OSError when the receiver cannot be reached."""
    described = events.describe(event, endpoint.client_id)
    body = json.dumps(described, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "consent-portal-webhooks/1",
        "Portal-Event-Id": described["id"],
        "Portal-Event-Type": event.type,
        HEADER: signature_header(endpoint, int(clock.now().timestamp()), body),
    }
    return pinned.post(endpoint.url, body, headers)


def _event_of(delivery: WebhookDelivery) -> Event:
    """The delivery's event, read in its own day's partition: an event and its deliveries are
    written with one time (``events.emit``). Rows from before the partitioning upgrade may
    differ in time: those are found by id alone."""
    found = db.session.scalar(
        select(Event).where(Event.id == delivery.event_id, Event.created_at == delivery.created_at)
    )
    return found or delivery.event


def deliver_due(
    limit: int = 50, owner: str | None = None, stopping: Callable[[], bool] = lambda: False
) -> Pass:
    """Send one batch of due deliveries; a 2xx answer is success, anything else a retry.

    The batch never outlasts its lease: a delivery starts only while the lease still covers
    the longest it may take (``pinned.longest``), and when ``stopping()`` turns true (the
    worker was asked to stop) no further one starts; the rest are handed back at once.
    """
    owner = owner or uuid.uuid4().hex
    result = Pass()
    claimed = _claim(owner, limit)
    leased_until = clock.now() + timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"])
    for position, (delivery_id, created_at) in enumerate(claimed):
        if stopping() or clock.now() + timedelta(seconds=pinned.longest()) > leased_until:
            leases.release(WebhookDelivery, owner, claimed[position:])
            break
        # By id and day: on PostgreSQL the row's own day's partition, not every one.
        this = (WebhookDelivery.id == delivery_id, WebhookDelivery.created_at == created_at)
        delivery = db.session.scalar(select(WebhookDelivery).where(*this))
        if delivery is None or delivery.lease_owner != owner:
            continue
        status, error = None, None
        try:
            status = _post(delivery.endpoint, _event_of(delivery))
        except destinations.Refused as refused:
            log.warning("webhook delivery %s refused: %s", delivery_id, refused)
            error = NOT_PUBLIC
        except (OSError, ValueError) as failure:
            log.warning("webhook delivery %s: %s: %s", delivery_id, type(failure).__name__, failure)
            error = UNREACHABLE
        now, attempts = clock.now(), delivery.attempts + 1
        values = {
            "attempts": attempts,
            "last_status": status,
            "lease_owner": None,
            "lease_until": None,
        }
        if status is not None and 200 <= status < 300:
            values.update(status=DELIVERED, delivered_at=now, last_error=None)
            result.sent += 1
        else:
            values.update(result.failed_attempt(attempts, error or f"HTTP {status}", now))
            log.warning(
                "webhook delivery %s attempt %s failed: %s",
                delivery_id,
                attempts,
                values["last_error"],
            )
        db.session.execute(
            update(WebhookDelivery)
            .where(*this, WebhookDelivery.lease_owner == owner)
            .values(**values)
        )
        db.session.commit()
    return result


def deliver_all(batch: int = 50) -> Pass:
    """Deliver everything due now: pass after pass until one finds nothing (a short batch is
    not the end here, since a person's next delivery becomes due once the one before it went)."""
    total = Pass()
    while True:
        one = deliver_due(batch)
        total.add(one)
        if not one.handled:
            return total
