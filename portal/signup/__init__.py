"""Lite registration: a brand's sign-up page, the double opt-in confirmation, the group home."""

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.signup.views import blueprint

    app.register_blueprint(blueprint)
