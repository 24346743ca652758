"""Prometheus metrics at /metrics, guarded by METRICS_TOKEN or, without one, by loopback only.

Request counts and latency are per process (multiprocess mode under gunicorn when
PROMETHEUS_MULTIPROC_DIR is set); business figures are read from the database at scrape time,
so every process reports the same truth.
"""

import hmac
import os

from flask import Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from portal.core.consent.models import SignupRequest
from portal.core.kernel import clock
from portal.core.mail.models import FAILED, QUEUED, OutboxMessage
from portal.extensions import db

REQUESTS = Counter("portal_requests_total", "HTTP requests", ["route", "method", "status"])
LATENCY = Histogram(
    "portal_request_seconds",
    "HTTP request duration",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class DatabaseFigures:
    """Outbox backlog and age, sign-ups and confirmations, read when scraped."""

    def collect(self):
        queued = db.session.execute(
            select(func.count(), func.min(OutboxMessage.created_at)).where(
                OutboxMessage.status == QUEUED
            )
        ).one()
        failed = db.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == FAILED)
        )
        signups, confirmed = db.session.execute(
            select(func.count(), func.count(SignupRequest.confirmed_at))
        ).one()
        oldest = (clock.now() - queued[1]).total_seconds() if queued[1] else 0.0
        for name, text, value in (
            ("portal_outbox_backlog", "Messages waiting to be sent", queued[0]),
            ("portal_outbox_oldest_seconds", "Age of the oldest waiting message", oldest),
            ("portal_outbox_failed", "Messages that failed every attempt", failed),
            ("portal_signups", "Sign-up requests held", signups),
            ("portal_confirmations", "Sign-up requests confirmed", confirmed),
        ):
            family = GaugeMetricFamily(name, text)
            family.add_metric([], value)
            yield family


def _allowed() -> bool:
    token = current_app.config["METRICS_TOKEN"]
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return hmac.compare_digest(given.encode(), token.encode())
    return request.remote_addr in ("127.0.0.1", "::1")


def init_app(app: Flask) -> None:
    @app.after_request
    def observe(response):
        route = request.url_rule.rule if request.url_rule else "unmatched"
        REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        if hasattr(g, "duration"):
            LATENCY.labels(route).observe(g.duration)
        return response

    @app.get("/metrics")
    def metrics():
        if not _allowed():
            abort(404)
        registry = CollectorRegistry()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            multiprocess.MultiProcessCollector(registry)
        else:
            registry.register(REQUESTS)
            registry.register(LATENCY)
        registry.register(DatabaseFigures())
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
