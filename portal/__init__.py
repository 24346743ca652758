"""The consent portal: a self-hosted preference centre for a group of brands."""

from pathlib import Path

from flask import Flask, request, session
from sqlalchemy import event
from sqlalchemy.engine import Engine

from portal.config import from_environment
from portal.core.kernel.crypto import Keys
from portal.extensions import babel, csrf, db, htmx, limiter, mail, migrate

ROOT = Path(__file__).resolve().parent.parent


def select_locale() -> str:
    """An explicit choice (``?lang=`` remembered in the session) wins over Accept-Language."""
    languages = babel_languages()
    chosen = request.args.get("lang")
    if chosen in languages:
        session["lang"] = chosen
        return chosen
    if session.get("lang") in languages:
        return session["lang"]
    return request.accept_languages.best_match(languages) or "en"


def babel_languages() -> list[str]:
    from flask import current_app

    return current_app.config["LANGUAGES"]


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(connection, _record):
    # Enforce foreign keys and wait for a busy writer rather than fail at once.
    if type(connection).__module__.startswith("sqlite3"):
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(ROOT / "instance"))
    app.config.update(from_environment(app.instance_path))
    if test_config:
        app.config.update(test_config)
    app.config.setdefault("MAIL_SUPPRESS_SEND", False)  # Flask-Mail would not send under testing
    app.config["MAIL_SUPPRESS_SEND"] = False
    # Older data keys stay readable while `flask keys rotate` moves the rows to the new one.
    app.extensions["portal.keys"] = Keys(
        app.config["PORTAL_DATA_KEY"],
        app.config["PORTAL_HASH_KEY"],
        app.config["PORTAL_OLD_DATA_KEYS"],
    )

    import portal.core.tables  # noqa: F401 - register every table before migrations look

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    mail.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(ROOT / "translations"),
    )

    from portal import api, cli, errors, ops, web
    from portal.admin import blueprint as admin
    from portal.lifecycle.views import blueprint as lifecycle
    from portal.passkeys.views import blueprint as passkeys
    from portal.preferences.unsubscribe import blueprint as unsubscribe
    from portal.preferences.views import blueprint as preferences
    from portal.selfservice import erase, views  # noqa: F401 - both add routes to the blueprint
    from portal.selfservice.blueprint import blueprint as selfservice
    from portal.signup.views import blueprint as signup

    app.register_blueprint(signup)
    app.register_blueprint(preferences)
    app.register_blueprint(unsubscribe)
    api.register(app)
    app.register_blueprint(selfservice)
    app.register_blueprint(passkeys)
    app.register_blueprint(admin)
    app.register_blueprint(lifecycle)
    web.register(app)
    errors.register(app)
    ops.init_app(app)
    cli.register(app)
    if app.config["PORTAL_ENV"] == "development" and app.config["MAIL_TRANSPORT"] == "mailbox":
        from portal.devmail.views import blueprint as devmail

        app.register_blueprint(devmail)
    return app
