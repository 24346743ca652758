"""The consent portal: a self-hosted preference centre for a group of brands."""

from pathlib import Path

from flask import Flask, g, has_request_context, request, session
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from portal import replica
from portal.config import from_environment
from portal.core.kernel import clock, subject_keys
from portal.core.kernel.crypto import Keys
from portal.core.kernel.subject_keys import KeyStore
from portal.extensions import babel, csrf, db, htmx, limiter, mail, migrate

ROOT = Path(__file__).resolve().parent.parent


def select_locale() -> str:
    """An explicit choice (``?lang=`` remembered in the session) wins over Accept-Language.
    Outside a request (a ``flask`` command, the worker) messages are in English."""
    if not has_request_context():
        return "en"
    languages, fallback = page_languages()
    chosen = request.args.get("lang")
    if chosen in languages:
        session["lang"] = chosen
        return chosen
    if session.get("lang") in languages:
        return session["lang"]
    return request.accept_languages.best_match(languages) or fallback


TIME_ZONE_COOKIE = "tz"  # set by static/timezone.js from the browser's own time zone


def select_time_zone() -> str | None:
    """The zone dates are shown in: the admin's choice in My account, else the browser's (its
    cookie, when it names a zone this machine knows), else None: the portal's own."""
    if not has_request_context():
        return None
    admin = g.get("admin")
    if admin is not None and admin.time_zone and clock.known_zone(admin.time_zone):
        return admin.time_zone
    zone = request.cookies.get(TIME_ZONE_COOKIE)
    return zone if clock.known_zone(zone) else None


def page_languages() -> tuple[list[str], str]:
    """The languages a page may speak, and the one it falls back to: a site group's own pages
    offer the group's languages, in its default language when the browser asks for none of
    them; the console and the API offer every language of the installation."""
    from flask import g

    group = g.get("group")
    if group is not None and request.blueprint != "admin" and group.languages:
        offered = [code for code in babel_languages() if code in group.languages]
        if offered:
            default = group.default_language
            return offered, default if default in offered else offered[0]
    return babel_languages(), "en"


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
    # Each person's own key, in a store apart from the data; a wrong key refuses to start here
    # (WrongKey names it) instead of failing later on every page that decrypts.
    keys_url = app.config.get("PORTAL_KEYS_URL") or subject_keys.default_url(
        app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path
    )
    app.extensions["portal.subject_keys"] = store = KeyStore(
        keys_url, app.extensions["portal.keys"], app.config["PORTAL_KEY_CACHE_SECONDS"]
    )
    store.prepare()

    import portal.core.tables  # noqa: F401 - register every table before migrations look

    _database_timeouts(app)
    replica.configure(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    mail.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        timezone_selector=select_time_zone,
        default_translation_directories=str(ROOT / "translations"),
    )

    from portal import (
        admin,
        api,
        cli,
        devmail,
        errors,
        lifecycle,
        links,
        ops,
        passkeys,
        preferences,
        selfservice,
        signup,
        web,
    )

    # Each part registers itself: its blueprints, hooks and commands.
    for part in (
        signup,
        preferences,
        api,
        selfservice,
        passkeys,
        admin,
        lifecycle,
        web,
        links,
        errors,
        ops,
        cli,
        devmail,
    ):
        part.init_app(app)
    replica.init_app(app)  # last: it wraps views the parts registered
    return app


def _database_timeouts(app: Flask) -> None:
    """PostgreSQL's lock_timeout and statement_timeout on every connection: a lock held too
    long, or a runaway query, ends in a clear "try again" (503) before gunicorn's worker
    timeout would kill the worker mid-request (see portal.errors)."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = dict(options.get("connect_args") or {})
    # The URL's own `options` (a search_path, an application_name) are kept: connect_args
    # would otherwise replace them. A timeout the URL sets wins, being later on the line.
    given = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).query.get("options", "")
    given = " ".join(given) if isinstance(given, tuple) else given
    connect_args["options"] = " ".join(
        part
        for part in (
            connect_args.get("options", ""),
            f"-c lock_timeout={int(app.config['DATABASE_LOCK_TIMEOUT_MS'])} "
            f"-c statement_timeout={int(app.config['DATABASE_STATEMENT_TIMEOUT_MS'])}",
            given,
        )
        if part
    )
    options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
