"""Self-service data: see, correct, download, withdraw and erase (GDPR Art. 15-17, 20)."""

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.selfservice import erase, views  # noqa: F401 - both add routes to the blueprint
    from portal.selfservice.blueprint import blueprint

    app.register_blueprint(blueprint)
