"""Webhooks: endpoints a client registers, and signed deliveries sent by the outbox worker.

Deliveries are queued in the transaction that writes the event (``events.emit``); the worker
claims due rows with a lease, like the mail outbox, and retries failures with the same back-off.
A receiver that is down loses nothing: its deliveries wait, then fail only after the last
attempt, kept for inspection.

Signature: header ``Portal-Signature: t=<unix seconds>,v1=<hex HMAC-SHA-256>`` over
``f"{t}.{body}"`` with the endpoint's secret. A receiver checks it with ``verify`` and rejects
a timestamp outside the replay window (``REPLAY_WINDOW``), so a captured delivery cannot be
played back later.
"""

import hashlib
import hmac
import json
import logging
import secrets
import uuid
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

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
from portal.extensions import db

log = logging.getLogger(__name__)
REPLAY_WINDOW = 300  # seconds a receiver should accept a signature's timestamp
TIMEOUT = 10  # seconds for connecting and for the answer
HEADER = "Portal-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: float, window: int = REPLAY_WINDOW) -> bool:
    """The reference check for receivers: a genuine signature with a fresh timestamp."""
    try:
        parts = dict(item.strip().split("=", 1) for item in (header or "").split(","))
        timestamp = int(parts["t"]) if parts["t"].isascii() else None
        signature = parts["v1"].encode("ascii")  # compare_digest refuses non-ASCII text
    except (ValueError, KeyError, UnicodeEncodeError):
        return False
    if timestamp is None or abs(now - timestamp) > window:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected.encode(), signature)


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


def _claim(owner: str, limit: int) -> list[int]:
    return leases.claim(WebhookDelivery, owner, limit)


# What the delivery log says. Kept this general on purpose: "connection refused" against
# "timed out" against "TLS failed" would let a client map ports of any host it can name.
UNREACHABLE = "The receiver could not be reached."
NOT_PUBLIC = "The receiver's address is not a public internet address."


def _post(endpoint: WebhookEndpoint, event: Event) -> int:
    """Send one event; the HTTP status. Raises ``destinations.Refused`` for an address inside
    the network and OSError when the receiver cannot be reached."""
    body = json.dumps(events.describe(event, endpoint.client_id), separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "consent-portal-webhooks/1",
        "Portal-Event-Id": events.describe(event)["id"],
        "Portal-Event-Type": event.type,
        HEADER: sign(endpoint.secret, int(clock.now().timestamp()), body),
    }
    return pinned.post(endpoint.url, body, headers, TIMEOUT)


def deliver_due(limit: int = 50, owner: str | None = None) -> Pass:
    """Send one batch of due deliveries; a 2xx answer is success, anything else a retry."""
    owner = owner or uuid.uuid4().hex
    result = Pass()
    for delivery_id in _claim(owner, limit):
        delivery = db.session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.lease_owner != owner:
            continue
        status, error = None, None
        try:
            status = _post(delivery.endpoint, delivery.event)
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
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.lease_owner == owner)
            .values(**values)
        )
        db.session.commit()
    return result


def deliver_all(batch: int = 50) -> Pass:
    return leases.drain(deliver_due, batch)
