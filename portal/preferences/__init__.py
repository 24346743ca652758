"""The multi-brand preference centre: passwordless access, every brand, one-click leaving."""

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.preferences import unsubscribe, views

    app.register_blueprint(views.blueprint)
    app.register_blueprint(unsubscribe.blueprint)
