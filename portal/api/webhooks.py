"""Webhook endpoints of the calling client, their delivery log, test pings, secret rotation
and redelivery of failed deliveries."""

from functools import partial

from flask import jsonify

from portal.api import blueprint, examples, io
from portal.api.contract import operation
from portal.api.problems import Problem
from portal.core.console import audit, client_admin
from portal.core.integrations import cursors, webhook_ops, webhooks
from portal.core.kernel.errors import InvalidInput

SCOPE = "events:read"  # who reads the feed manages where it is pushed
ENDPOINT = {"endpoint_id": "$response.body#/id"}


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
@operation(
    operation_id="createWebhook",
    reads_only=False,
    may_lag=False,
    summary="Register an HTTPS endpoint; the answer holds its signing secret, shown once",
    scope=SCOPE,
    personal=True,
    body="WebhookRequest",
    body_example=examples.WEBHOOK_REQUEST,
    ok="WebhookCreated",
    example=examples.WEBHOOK_CREATED,
    status=201,
    write=True,
    links={
        "ping": ("pingWebhook", ENDPOINT),
        "deliveries": ("listDeliveries", ENDPOINT),
        "rotateSecret": ("rotateWebhookSecret", ENDPOINT),
        "redeliverSince": ("redeliverWebhookSince", ENDPOINT),
        "remove": ("deleteWebhook", ENDPOINT),
    },
)
def create(client, body):
    return io.idempotent(client, partial(_create, client, body["url"], body["events"]))


@blueprint.get("/webhooks")
@operation(
    operation_id="listWebhooks",
    reads_only=True,
    may_lag=False,
    summary="This client's webhook endpoints",
    scope=SCOPE,
    ok="WebhookList",
    example={"webhooks": [examples.WEBHOOK]},
)
def listing(client):
    return jsonify({"webhooks": [_endpoint(e) for e in webhooks.endpoints(client)]})


@blueprint.delete("/webhooks/<int:endpoint_id>")
@operation(
    operation_id="deleteWebhook",
    reads_only=False,
    may_lag=False,
    summary="Stop deliveries to an endpoint",
    scope=SCOPE,
    ok="Removed",
    example={"id": 7, "removed": True},
    write=True,
)
def remove(client, endpoint_id: int):
    return io.idempotent(client, partial(_remove, client, endpoint_id))


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
@operation(
    operation_id="pingWebhook",
    reads_only=False,
    may_lag=False,
    summary="Queue a signed test event (webhook.ping) to this endpoint alone; it never shows "
    "in the feed",
    scope=SCOPE,
    personal=True,
    ok="PingQueued",
    example={"id": 7, "event": examples.CURSOR, "type": "webhook.ping"},
    status=202,
    write=True,
    links={"deliveries": ("listDeliveries", ENDPOINT)},
)
def ping(client, endpoint_id: int):
    return io.idempotent(client, partial(_ping, client, endpoint_id))


@blueprint.post("/webhooks/<int:endpoint_id>/secret")
@operation(
    operation_id="rotateWebhookSecret",
    reads_only=False,
    may_lag=False,
    summary="A new signing secret, shown once; the previous one keeps signing beside it (a "
    "second v1) until previous_secret_until",
    scope=SCOPE,
    personal=True,
    ok="WebhookSecret",
    example=examples.WEBHOOK_SECRET,
    write=True,
)
def rotate_secret(client, endpoint_id: int):
    return io.idempotent(client, partial(_rotate, client, endpoint_id))


@blueprint.get("/webhooks/<int:endpoint_id>/deliveries")
@operation(
    operation_id="listDeliveries",
    reads_only=True,
    may_lag=False,
    summary="The latest deliveries to an endpoint: status, attempts, last error",
    scope=SCOPE,
    ok="DeliveryList",
    example={"deliveries": [examples.DELIVERY]},
    links={
        "redeliverTheLatest": (
            "redeliverDelivery",
            {
                "endpoint_id": "$request.path.endpoint_id",
                "delivery_id": "$response.body#/deliveries/0/id",
            },
        )
    },
)
def deliveries(client, endpoint_id: int):
    rows = webhooks.deliveries(client, endpoint_id)
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


def _redeliver(client, endpoint_id, delivery_id=None, since=None):
    try:
        count = client_admin.redeliver_audited(
            None, client, endpoint_id, delivery_id, since, actor=audit.api_actor(client.name)
        )
    except InvalidInput:
        raise Problem(
            409,
            "Only a delivery that failed every attempt can be sent again.",
            "delivery-not-failed",
        ) from None
    return 202, {"id": endpoint_id, "redelivered": count}


@blueprint.post("/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/redelivery")
@operation(
    operation_id="redeliverDelivery",
    reads_only=False,
    may_lag=False,
    summary="Send one failed delivery again, with a fresh set of attempts (audited); 409 for "
    "a delivery that has not failed every attempt",
    scope=SCOPE,
    personal=True,
    ok="Redelivery",
    example={"id": 7, "redelivered": 1},
    status=202,
    write=True,
)
def redeliver_one(client, endpoint_id: int, delivery_id: int):
    return io.idempotent(client, partial(_redeliver, client, endpoint_id, delivery_id))


@blueprint.post("/webhooks/<int:endpoint_id>/redeliveries")
@operation(
    operation_id="redeliverWebhookSince",
    reads_only=False,
    may_lag=False,
    summary="Send again every failed delivery to an endpoint created at or after a time, "
    "each with a fresh set of attempts (audited); answers how many",
    scope=SCOPE,
    personal=True,
    body="RedeliveryRequest",
    body_example={"since": examples.WHEN},
    ok="Redelivery",
    example={"id": 7, "redelivered": 3},
    status=202,
    write=True,
)
def redeliver_since(client, endpoint_id: int, body):
    since = io.moment(body["since"], "since")
    return io.idempotent(client, partial(_redeliver, client, endpoint_id, since=since))
