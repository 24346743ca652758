"""Running the portal in production: security headers, logs, metrics, health, doctor."""

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.ops import health, logs, metrics, security

    security.init_app(app)
    logs.init_app(app)
    metrics.init_app(app)
    app.register_blueprint(health.blueprint)
