"""Passkeys in the preference centre: add, list and remove them; sign in with one."""

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.passkeys.views import blueprint

    app.register_blueprint(blueprint)
