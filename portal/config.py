"""Configuration from the environment, in one place.

Every variable read here is documented in README.md ("Configuration").
"""

import base64
import os
import secrets
from pathlib import Path


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _instance_secret(instance: Path, name: str, make) -> str:
    """Read a development secret from instance/, creating it on first use."""
    path = instance / name
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


class ConfigError(RuntimeError):
    """The configuration cannot work; the message says which variable and why."""


def from_environment(instance_path: str) -> dict:
    env = os.environ
    instance = Path(instance_path)
    development = env.get("PORTAL_ENV", "development") == "development"

    def secret(name: str, filename: str, make=_key) -> str:
        value = env.get(name)
        if value:
            return value
        if not development:
            raise ConfigError(
                f"{name} must be set outside development (PORTAL_ENV={env['PORTAL_ENV']})."
            )
        return _instance_secret(instance, filename, make)

    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'portal.sqlite3'}"
    if database_url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]

    mail_server = env.get("MAIL_SERVER", "")
    return {
        "PORTAL_ENV": "development" if development else env.get("PORTAL_ENV"),
        "SECRET_KEY": secret("SECRET_KEY", "secret_key", lambda: secrets.token_hex(32)),
        "PORTAL_DATA_KEY": secret("PORTAL_DATA_KEY", "data_key"),
        "PORTAL_HASH_KEY": secret("PORTAL_HASH_KEY", "hash_key"),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "PORTAL_BASE_URL": env.get("PORTAL_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "PORTAL_DEFAULT_GROUP": env.get("PORTAL_DEFAULT_GROUP", ""),
        # Mail: with no MAIL_SERVER in development, mail goes to the mailbox page instead.
        "MAIL_SERVER": mail_server or "localhost",
        "MAIL_PORT": int(env.get("MAIL_PORT", "25")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS")),
        "MAIL_USE_SSL": _bool(env.get("MAIL_USE_SSL")),
        "MAIL_TRANSPORT": env.get("MAIL_TRANSPORT")
        or ("smtp" if mail_server or not development else "mailbox"),
        "MAILBOX_DIR": env.get("MAILBOX_DIR", str(instance / "mailbox")),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_SIGNUP_IP": env.get("RATELIMIT_SIGNUP_IP", "20 per minute;200 per day"),
        "RATELIMIT_SIGNUP_ADDRESS": env.get("RATELIMIT_SIGNUP_ADDRESS", "3 per hour"),
        "CONFIRMATION_MAX_AGE": int(env.get("CONFIRMATION_MAX_AGE", str(48 * 3600))),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": not development,
        "WTF_CSRF_TIME_LIMIT": None,  # the session's own lifetime bounds the token
        "BABEL_DEFAULT_LOCALE": "en",
        "LANGUAGES": ["en", "fr", "de"],
        "OUTBOX_MAX_ATTEMPTS": int(env.get("OUTBOX_MAX_ATTEMPTS", "20")),
        "OUTBOX_LEASE_SECONDS": int(env.get("OUTBOX_LEASE_SECONDS", "300")),
        "ADMIN_IDLE_MINUTES": int(env.get("ADMIN_IDLE_MINUTES", "30")),
        "ADMIN_INVITE_MAX_AGE": int(env.get("ADMIN_INVITE_MAX_AGE", str(7 * 24 * 3600))),
        "RATELIMIT_ADMIN_LOGIN": env.get("RATELIMIT_ADMIN_LOGIN", "10 per minute;50 per day"),
        "ADMIN_MAIL_SENDER": env.get("ADMIN_MAIL_SENDER", "Consent portal <portal@localhost>"),
        "ADMIN_LOGO_MAX_BYTES": int(env.get("ADMIN_LOGO_MAX_BYTES", str(200 * 1024))),
        "ADMIN_IMPORT_MAX_BYTES": int(env.get("ADMIN_IMPORT_MAX_BYTES", str(20 * 1024 * 1024))),
    }
