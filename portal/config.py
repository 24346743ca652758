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


KNOWN_DEFAULTS = {"change-me", "changeme", "secret", "dev", "development", "test", "password"}


# The dashboard's window of daily figures (``console.rollups.WINDOW_DAYS``): its 12 weeks from
# whichever weekday it is. No shorter retention of them is accepted.
FIGURES_WINDOW_DAYS = 12 * 7 + 7


def check_secrets(env) -> None:
    """Outside development, refuse to start with a default, short or reused secret."""
    from portal.core.kernel.crypto import decode_key

    secret_key = env.get("SECRET_KEY", "")
    if secret_key.lower() in KNOWN_DEFAULTS or len(set(secret_key)) < 8:
        raise ConfigError("SECRET_KEY is a default or placeholder value: set a random one.")
    if len(secret_key) < 32:
        raise ConfigError(
            f"SECRET_KEY is too short ({len(secret_key)} characters; "
            "use at least 32 random characters)."
        )
    for name in ("PORTAL_DATA_KEY", "PORTAL_HASH_KEY"):
        try:
            raw = decode_key(env.get(name, ""), name)
        except ValueError as error:
            raise ConfigError(f"{error} (32 random bytes, URL-safe base64).") from None
        if len(set(raw)) < 8:
            raise ConfigError(f"{name} is not random enough: generate a new one.")
    if env["PORTAL_DATA_KEY"] == env["PORTAL_HASH_KEY"]:
        raise ConfigError("PORTAL_DATA_KEY and PORTAL_HASH_KEY must be different keys.")


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

    if not development:
        check_secrets(env)

    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'portal.sqlite3'}"
    if database_url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]

    replica_url = env.get("DATABASE_REPLICA_URL", "")
    if replica_url.startswith("postgresql://"):
        replica_url = "postgresql+psycopg://" + replica_url[len("postgresql://") :]

    mail_server = env.get("MAIL_SERVER", "")
    figures_days = int(env.get("DAILY_FIGURES_DAYS", "400"))
    if figures_days < FIGURES_WINDOW_DAYS:
        raise ConfigError(
            f"DAILY_FIGURES_DAYS must be at least {FIGURES_WINDOW_DAYS}: the dashboard shows"
            " 12 weeks of daily figures."
        )
    return {
        "PORTAL_ENV": "development" if development else env.get("PORTAL_ENV"),
        "SECRET_KEY": secret("SECRET_KEY", "secret_key", lambda: secrets.token_hex(32)),
        "PORTAL_DATA_KEY": secret("PORTAL_DATA_KEY", "data_key"),
        "PORTAL_HASH_KEY": secret("PORTAL_HASH_KEY", "hash_key"),
        # Empty: a SQLite file next to the database (see subject_keys.default_url).
        "PORTAL_KEYS_URL": env.get("PORTAL_KEYS_URL", ""),
        "PORTAL_KEY_CACHE_SECONDS": float(env.get("PORTAL_KEY_CACHE_SECONDS", "30")),
        "PORTAL_OLD_DATA_KEYS": [
            k.strip() for k in env.get("PORTAL_OLD_DATA_KEYS", "").split(",") if k.strip()
        ],
        "SQLALCHEMY_DATABASE_URI": database_url,
        # A streaming replica for reads that tolerate lag (portal.replica); empty: none.
        "DATABASE_REPLICA_URL": replica_url,
        "REPLICA_MAX_LAG_SECONDS": float(env.get("REPLICA_MAX_LAG_SECONDS", "5")),
        "PORTAL_BASE_URL": env.get("PORTAL_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "PORTAL_DEFAULT_GROUP": env.get("PORTAL_DEFAULT_GROUP", ""),
        "PORTAL_JURISDICTION": env.get("PORTAL_JURISDICTION", "EU"),
        # Mail: with no MAIL_SERVER in development, mail goes to the mailbox page instead.
        "MAIL_SERVER": mail_server or "localhost",
        "MAIL_PORT": int(env.get("MAIL_PORT", "25")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS")),
        "MAIL_USE_SSL": _bool(env.get("MAIL_USE_SSL")),
        # Set only when the SMTP server offers SMTPUTF8 (RFC 6531): addresses with non-ASCII
        # characters before the @ are then accepted. Unknown (the default): refused.
        "MAIL_SMTPUTF8": _bool(env.get("MAIL_SMTPUTF8")),
        "MAIL_TIMEOUT_SECONDS": float(env.get("MAIL_TIMEOUT_SECONDS", "30")),
        "MAIL_TRANSPORT": env.get("MAIL_TRANSPORT")
        or ("smtp" if mail_server or not development else "mailbox"),
        "MAILBOX_DIR": env.get("MAILBOX_DIR", str(instance / "mailbox")),
        # PostgreSQL: how long a statement may wait for a lock, and run at all, before the
        # request gets a "try again" page (503) instead of holding a worker (milliseconds).
        "DATABASE_LOCK_TIMEOUT_MS": int(env.get("DATABASE_LOCK_TIMEOUT_MS", "5000")),
        "DATABASE_STATEMENT_TIMEOUT_MS": int(env.get("DATABASE_STATEMENT_TIMEOUT_MS", "20000")),
        # The same sign-up again within this many seconds is one intent (a double click).
        "SIGNUP_REPEAT_SECONDS": int(env.get("SIGNUP_REPEAT_SECONDS", "60")),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_KEY_PREFIX": env.get("RATELIMIT_KEY_PREFIX", "portal"),
        "RATELIMIT_SIGNUP_IP": env.get("RATELIMIT_SIGNUP_IP", "20 per minute;200 per day"),
        "RATELIMIT_SIGNUP_ADDRESS": env.get("RATELIMIT_SIGNUP_ADDRESS", "3 per hour"),
        "RATELIMIT_API": env.get("RATELIMIT_API", "600 per minute"),
        "API_MAX_BODY": int(env.get("API_MAX_BODY", str(2 * 1024 * 1024))),
        "API_KEY_CACHE_SECONDS": float(env.get("API_KEY_CACHE_SECONDS", "5")),
        "API_KEY_OVERLAP_HOURS": float(env.get("API_KEY_OVERLAP_HOURS", "168")),
        "API_TOKEN_SECONDS": int(env.get("API_TOKEN_SECONDS", "900")),
        # Clocks of tills and phones drift: how far in the future a captured_at may be.
        "API_CLOCK_SKEW_SECONDS": int(env.get("API_CLOCK_SKEW_SECONDS", "300")),
        # Testing only: lets webhooks go to http:// receivers on loopback. Never in production.
        "WEBHOOKS_ALLOW_INSECURE": _bool(env.get("WEBHOOKS_ALLOW_INSECURE")) and development,
        "WEBHOOK_CONNECT_TIMEOUT": float(env.get("WEBHOOK_CONNECT_TIMEOUT", "5")),
        "WEBHOOK_READ_TIMEOUT": float(env.get("WEBHOOK_READ_TIMEOUT", "10")),
        "WEBHOOK_DELIVERY_SECONDS": float(env.get("WEBHOOK_DELIVERY_SECONDS", "30")),
        "WEBHOOK_SECRET_OVERLAP_HOURS": float(env.get("WEBHOOK_SECRET_OVERLAP_HOURS", "24")),
        "CONFIRMATION_MAX_AGE": int(env.get("CONFIRMATION_MAX_AGE", str(48 * 3600))),
        # The preference centre: magic links, the mail-footer link, one-click unsubscribe.
        "MAGIC_LINK_MAX_AGE": int(env.get("MAGIC_LINK_MAX_AGE", str(30 * 60))),
        "MANAGE_LINK_MAX_AGE": int(env.get("MANAGE_LINK_MAX_AGE", str(60 * 86400))),
        "UNSUBSCRIBE_LINK_MAX_AGE": int(env.get("UNSUBSCRIBE_LINK_MAX_AGE", str(180 * 86400))),
        # "Still right" and "Keep my subscriptions" links of lifecycle reminders.
        "LIFECYCLE_LINK_MAX_AGE": int(env.get("LIFECYCLE_LINK_MAX_AGE", str(60 * 86400))),
        "UNSUBSCRIBE_MAILTO_DOMAIN": env.get("UNSUBSCRIBE_MAILTO_DOMAIN", ""),
        # Self-service: the erasure confirmation link and the new-address confirmation link.
        "ERASURE_LINK_MAX_AGE": int(env.get("ERASURE_LINK_MAX_AGE", str(30 * 60))),
        "EMAIL_CHANGE_MAX_AGE": int(env.get("EMAIL_CHANGE_MAX_AGE", str(24 * 3600))),
        # Erasure requests to recipients: answered within this many hours, or sent again and
        # shown as overdue; re-sent a batch per transaction; the status link's lifetime.
        "ERASURE_ANSWER_HOURS": int(env.get("ERASURE_ANSWER_HOURS", "72")),
        "IDEMPOTENCY_HOURS": int(env.get("IDEMPOTENCY_HOURS", "48")),
        "OUTBOX_KEEP_DAYS": int(env.get("OUTBOX_KEEP_DAYS", "90")),
        # Change-feed events and webhook deliveries (``integrations.retention``).
        "EVENT_RETENTION_DAYS": int(env.get("EVENT_RETENTION_DAYS", "30")),
        "WEBHOOK_DELIVERY_RETENTION_DAYS": int(env.get("WEBHOOK_DELIVERY_RETENTION_DAYS", "30")),
        "RETENTION_BATCH": int(env.get("RETENTION_BATCH", "10000")),
        # The dashboard's daily roll-ups (``console.rollups.prune``).
        "DAILY_FIGURES_DAYS": figures_days,
        "ERASURE_RESEND_BATCH": int(env.get("ERASURE_RESEND_BATCH", "100")),
        "ERASURE_STATUS_MAX_AGE": int(env.get("ERASURE_STATUS_MAX_AGE", str(365 * 86400))),
        # Passkeys (WebAuthn): both default to what PORTAL_BASE_URL says (see the README).
        "PASSKEY_RP_ID": env.get("PASSKEY_RP_ID", "").strip(),
        "PASSKEY_ORIGINS": [
            o.strip().rstrip("/") for o in env.get("PASSKEY_ORIGINS", "").split(",") if o.strip()
        ],
        "SESSION_IDLE_MINUTES": int(env.get("SESSION_IDLE_MINUTES", "30")),
        "PERMANENT_SESSION_LIFETIME": 60 * int(env.get("SESSION_IDLE_MINUTES", "30")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": not development,
        # __Host- binds the cookie to this exact host over HTTPS (no Domain, Path=/).
        "SESSION_COOKIE_NAME": "session" if development else "__Host-session",
        # argon2id cost of admin passwords, a profile of argon2.profiles (tests: CHEAPEST).
        "PASSWORD_HASH_PROFILE": env.get("PASSWORD_HASH_PROFILE", "RFC_9106_LOW_MEMORY"),
        "WTF_CSRF_TIME_LIMIT": None,  # the session's own lifetime bounds the token
        "BABEL_DEFAULT_LOCALE": "en",
        "LANGUAGES": ["en", "fr", "de"],
        "PROXY_FIX_HOPS": int(env.get("PROXY_FIX_HOPS", "0")),
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH", str(20 * 1024 * 1024))),
        "LOG_JSON": _bool(env.get("LOG_JSON"), default=not development),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        "METRICS_TOKEN": env.get("METRICS_TOKEN", ""),
        "OUTBOX_MAX_ATTEMPTS": int(env.get("OUTBOX_MAX_ATTEMPTS", "20")),
        "OUTBOX_LEASE_SECONDS": int(env.get("OUTBOX_LEASE_SECONDS", "300")),
        "ADMIN_IDLE_MINUTES": int(env.get("ADMIN_IDLE_MINUTES", "30")),
        "ADMIN_INVITE_MAX_AGE": int(env.get("ADMIN_INVITE_MAX_AGE", str(7 * 24 * 3600))),
        "ADMIN_RESET_MAX_AGE": int(env.get("ADMIN_RESET_MAX_AGE", str(3600))),
        "RATELIMIT_ADMIN_LOGIN": env.get("RATELIMIT_ADMIN_LOGIN", "10 per minute;50 per day"),
        "ADMIN_MAIL_SENDER": env.get("ADMIN_MAIL_SENDER", "Consent portal <portal@localhost>"),
        "ADMIN_LOGO_MAX_BYTES": int(env.get("ADMIN_LOGO_MAX_BYTES", str(200 * 1024))),
        "ADMIN_IMPORT_MAX_BYTES": int(env.get("ADMIN_IMPORT_MAX_BYTES", str(20 * 1024 * 1024))),
        "JOB_BATCH_SIZE": int(env.get("JOB_BATCH_SIZE", "500")),
        "JOB_LEASE_SECONDS": int(env.get("JOB_LEASE_SECONDS", "300")),
        "JOB_MAX_ATTEMPTS": int(env.get("JOB_MAX_ATTEMPTS", "5")),
        "IMPORT_HOLD_HOURS": int(env.get("IMPORT_HOLD_HOURS", "24")),
        "WORKER_STALE_SECONDS": int(env.get("WORKER_STALE_SECONDS", "120")),
        "METRICS_INTERVAL_SECONDS": int(env.get("METRICS_INTERVAL_SECONDS", "60")),
        # The ledger's anchors: signed with this Ed25519 key (32 bytes, hex; `flask ledger
        # keygen`) when set; at most this many entries under one anchor.
        "LEDGER_SIGNING_KEY": env.get("LEDGER_SIGNING_KEY", "").strip(),
        "LEDGER_SEAL_BATCH": int(env.get("LEDGER_SEAL_BATCH", "10000")),
        "LEDGER_SEAL_SECONDS": float(env.get("LEDGER_SEAL_SECONDS", "60")),
    }
