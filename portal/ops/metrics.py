"""Prometheus metrics at /metrics, guarded by METRICS_TOKEN or, without one, by loopback only.

Request counts and latency are per process (multiprocess mode under gunicorn when
PROMETHEUS_MULTIPROC_DIR is set); business figures are computed by a worker once per
METRICS_INTERVAL_SECONDS and read from the database at scrape time, so every process reports
the same truth without counting large tables on every scrape.
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

from portal.core.console import gauges
from portal.core.kernel import clock, heartbeat

REQUESTS = Counter("portal_requests_total", "HTTP requests", ["route", "method", "status"])
LATENCY = Histogram(
    "portal_request_seconds",
    "HTTP request duration",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class DatabaseFigures:
    """The figures a worker last computed (see core.console.gauges), their age, and how long
    ago a worker was last seen: two small reads per scrape, whatever the tables hold."""

    def collect(self):
        figures, age = gauges.read()
        now = clock.now().timestamp()
        for name, text in gauges.FIGURES.items():
            if name not in figures:
                continue
            if name == "portal_outbox_oldest_created":
                oldest = figures[name]
                name, text = "portal_outbox_oldest_seconds", "Age of the oldest waiting message"
                value = max(0.0, now - oldest) if oldest else 0.0
            else:
                value = figures[name]
            family = GaugeMetricFamily(name, text)
            family.add_metric([], value)
            yield family
        seen = heartbeat.last_seen()
        for name, text, value in (
            ("portal_figures_age_seconds", "Seconds since a worker computed these figures", age),
            (
                "portal_worker_last_seen_seconds",
                "Seconds since any worker was last seen alive",
                now - seen.timestamp() if seen else None,
            ),
        ):
            family = GaugeMetricFamily(name, text)
            family.add_metric([], float("nan") if value is None else value)
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
