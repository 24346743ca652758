"""Development only: a mailbox page listing every mail the worker delivered."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Only in development with MAIL_TRANSPORT=mailbox: nowhere else is there a mailbox."""
    if app.config["PORTAL_ENV"] == "development" and app.config["MAIL_TRANSPORT"] == "mailbox":
        from portal.devmail.views import blueprint

        app.register_blueprint(blueprint)
