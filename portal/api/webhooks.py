"""Webhook endpoints of the calling client, their delivery log, test pings and secret
rotation."""

from functools import partial

from flask import jsonify

from portal.api import blueprint, io
from portal.api.auth import requires
from portal.core.integrations import cursors, webhook_ops, webhooks
from portal.core.kernel.models.base import MAX_ID


def _endpoint(endpoint) -> dict:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": endpoint.event_types,
        "created_at": endpoint.created_at.isoformat(),
    }


def _create(client, url, types):
    endpoint, secret = webhooks.register(client, url, types)
    return 201, {**_endpoint(endpoint), "secret": secret}


def _remove(client, endpoint_id):
    webhooks.remove(client, endpoint_id)
    return 200, {"id": endpoint_id, "removed": True}


@blueprint.post("/webhooks")
@requires("events:read", personal=True)
def create(client):
    data = io.body("WebhookRequest")
    return io.idempotent(client, partial(_create, client, data["url"], data["events"]))


@blueprint.get("/webhooks")
@requires("events:read")
def listing(client):
    return jsonify({"webhooks": [_endpoint(e) for e in webhooks.endpoints(client)]})


@blueprint.delete("/webhooks/<int:endpoint_id>")
@requires("events:read")
def remove(client, endpoint_id: int):
    return io.idempotent(client, partial(_remove, client, min(endpoint_id, MAX_ID)))


def _ping(client, endpoint_id):
    event = webhook_ops.ping(client, endpoint_id)
    return 202, {
        "id": endpoint_id,
        "event": cursors.of(event.xid, event.id, event.seq),
        "type": event.type,
    }


def _rotate(client, endpoint_id):
    endpoint, secret = webhook_ops.rotate_secret(client, endpoint_id)
    return 200, {
        **_endpoint(endpoint),
        "secret": secret,
        "previous_secret_until": endpoint.previous_secret_until.isoformat(),
    }


@blueprint.post("/webhooks/<int:endpoint_id>/ping")
@requires("events:read", personal=True)
def ping(client, endpoint_id: int):
    return io.idempotent(client, partial(_ping, client, min(endpoint_id, MAX_ID)))


@blueprint.post("/webhooks/<int:endpoint_id>/secret")
@requires("events:read", personal=True)
def rotate_secret(client, endpoint_id: int):
    return io.idempotent(client, partial(_rotate, client, min(endpoint_id, MAX_ID)))


@blueprint.get("/webhooks/<int:endpoint_id>/deliveries")
@requires("events:read")
def deliveries(client, endpoint_id: int):
    rows = webhooks.deliveries(client, min(endpoint_id, MAX_ID))
    return jsonify(
        {
            "deliveries": [
                {
                    "id": row.id,
                    "event": cursors.of(row.event.xid, row.event.id, row.event.seq),
                    "status": row.status,
                    "attempts": row.attempts,
                    "last_status": row.last_status,
                    "last_error": row.last_error,
                    "created_at": row.created_at.isoformat(),
                    "next_attempt_at": row.next_attempt_at.isoformat(),
                    "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
                }
                for row in rows
            ]
        }
    )
