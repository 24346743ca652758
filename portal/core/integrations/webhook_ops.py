"""Operating webhooks: a test ping, delivering failed deliveries again, rotating a secret.

A ping is an event of its own type (``webhook.ping``) addressed to one endpoint: it is signed
and delivered by the worker like any event, so a ping that arrives proves the whole path
(address, TLS, signature check); it never shows in the change feed.

Rotating a secret gives the endpoint a new one while the old one still signs for an overlap
(``WEBHOOK_SECRET_OVERLAP_HOURS``): each delivery then carries two ``v1`` signatures, the new
one first, so the receiver can switch secrets whenever it likes within that time.
"""

import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from portal.core.integrations import events
from portal.core.integrations.models.api import ApiClient, WebhookDelivery, WebhookEndpoint
from portal.core.integrations.models.event import WEBHOOK_PING, Event
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidInput, NotFound
from portal.core.kernel.models.queued import FAILED, QUEUED
from portal.extensions import db


def live_endpoint(client: ApiClient, endpoint_id: int) -> WebhookEndpoint:
    """An endpoint of ``client`` not removed; NotFound for any other."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.client_id != client.id or endpoint.disabled_at is not None:
        raise NotFound("webhook")
    return endpoint


def ping(client: ApiClient, endpoint_id: int) -> Event:
    """Queue a signed ``webhook.ping`` to one endpoint of ``client`` (caller's transaction)."""
    endpoint = live_endpoint(client, endpoint_id)
    return events.emit(
        client.group_id,
        WEBHOOK_PING,
        {"endpoint_id": endpoint.id},
        client_id=client.id,
        endpoint_id=endpoint.id,
    )


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def rotate_secret(
    client: ApiClient, endpoint_id: int, overlap: timedelta | None = None
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret for an endpoint of ``client`` (caller's transaction), shown only
    now; the current one keeps signing beside it for ``overlap``. Rotating again within the
    overlap drops the oldest secret: two sign at most."""
    endpoint = live_endpoint(client, endpoint_id)
    if overlap is None:
        overlap = timedelta(hours=current_app.config["WEBHOOK_SECRET_OVERLAP_HOURS"])
    secret = new_secret()
    endpoint.previous_secret, endpoint.previous_secret_until = (
        endpoint.secret,
        clock.now() + overlap,
    )
    endpoint.secret = secret
    db.session.flush()
    return endpoint, secret


def redeliver(
    endpoint: WebhookEndpoint, delivery_id: int | None = None, since: datetime | None = None
) -> int:
    """Queue again, with a fresh set of attempts, the failed deliveries of ``endpoint``: the
    one ``delivery_id``, or all created at or after ``since`` (caller's transaction). Returns
    how many. NotFound for a delivery that is not the endpoint's; InvalidInput for one that
    has not failed."""
    if (delivery_id is None) == (since is None):
        raise InvalidInput("since", "name one delivery, or a time to redeliver from")
    query = update(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == FAILED
    )
    if delivery_id is not None:
        status = db.session.scalar(
            select(WebhookDelivery.status).where(
                WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint.id
            )
        )
        if status is None:
            raise NotFound("delivery")
        if status != FAILED:
            raise InvalidInput("delivery", "only a delivery that failed every attempt")
        query = query.where(WebhookDelivery.id == delivery_id)
    else:
        query = query.where(WebhookDelivery.created_at >= since)
    return db.session.execute(
        query.values(
            status=QUEUED,
            attempts=0,
            next_attempt_at=clock.now(),
            lease_owner=None,
            lease_until=None,
        )
    ).rowcount
