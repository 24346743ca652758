"""The pages behind lifecycle reminders' links: Still right, Update, Keep my subscriptions."""

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.lifecycle.views import blueprint

    app.register_blueprint(blueprint)
