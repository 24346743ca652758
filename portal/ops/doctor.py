"""``flask doctor``: check the configuration, database, SMTP and workers; say what is wrong."""

import smtplib

from flask import current_app
from sqlalchemy import func, select

from portal.core.consent import anchors
from portal.core.integrations.models.api import WebhookDelivery
from portal.core.kernel import heartbeat
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.models.queued import QUEUED
from portal.core.mail import health
from portal.extensions import db
from portal.ops.health import readiness


def _configuration(config) -> list[str]:
    problems = []
    production = config["PORTAL_ENV"] != "development"
    if production and not config["PORTAL_BASE_URL"].startswith("https://"):
        problems.append(
            "PORTAL_BASE_URL should be an https:// address in production: links in "
            "mails would otherwise be sent in clear."
        )
    if production and config["RATELIMIT_STORAGE_URI"].startswith("memory"):
        problems.append(
            "RATELIMIT_STORAGE_URI is memory://: with several processes each keeps "
            "its own count. Point it at Redis."
        )
    if production and config["MAIL_TRANSPORT"] != "smtp":
        problems.append("MAIL_TRANSPORT is not smtp: mail would not leave this machine.")
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") and production:
        problems.append("DATABASE_URL is SQLite: use PostgreSQL in production.")
    elif production and not config.get("PORTAL_KEYS_URL"):
        problems.append(
            "PORTAL_KEYS_URL is not set: the key store is a file on this one machine. Give it a "
            'PostgreSQL database of its own, backed up apart from the data (README, "Keys, '
            'erasure and backups").'
        )
    try:
        anchors.signing_key()
    except InvalidInput as wrong:
        problems.append(f"{wrong.message} The ledger cannot be sealed until it is fixed.")
    return problems


def _keys() -> list[str]:
    from portal.core.people import key_migration

    waiting = key_migration.waiting()
    if waiting:
        return [
            f"{waiting} people are still under the data key alone, not a key of their own, or "
            "have passkey names or external ids in clear: run `flask keys per-person` (once, "
            "after the upgrade; it can run while serving)."
        ]
    return []


def _smtp(config) -> str | None:
    if config["MAIL_TRANSPORT"] != "smtp":
        return None
    try:
        factory = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
        with factory(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=5) as server:
            server.ehlo()
            if config["MAIL_USE_TLS"]:
                server.starttls()
            if config["MAIL_USERNAME"]:
                server.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
    except (OSError, smtplib.SMTPException) as error:
        return (
            f"the SMTP server {config['MAIL_SERVER']}:{config['MAIL_PORT']} cannot be used "
            f"({type(error).__name__}: {error}); mail waits in the outbox until it can."
        )
    return None


def _worker() -> list[str]:
    """The worker's heartbeat and the state of mail, as the console's banner shows them."""
    state = health.state()
    problems = []
    if state.worker_seen_at is None:
        problems.append(
            "no worker is running: start `flask outbox work` (mail, sign-ups and jobs wait for it)."
        )
    elif state.worker_stale:
        problems.append(
            f"no worker has been seen since {state.worker_seen_at:%Y-%m-%d %H:%M:%S} UTC "
            f"(more than {current_app.config['WORKER_STALE_SECONDS']} s): is "
            "`flask outbox work` running?"
        )
    if state.mail_failing:
        problems.append(
            f"mail is failing: {state.retrying} messages wait for a retry, {state.failed_today} "
            f"failed every attempt in the last day (last error: {state.last_error or 'none'}); "
            "once the cause is fixed, `flask outbox retry` sends the failed ones again."
        )
    return problems


def _webhook_worker() -> list[str]:
    """Webhook deliveries waiting with no webhook worker alive (installations without webhooks
    need none, so only waiting deliveries make its absence a problem)."""
    waiting = db.session.scalar(
        select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == QUEUED)
    )
    seen = heartbeat.last_seen("webhooks")
    if not waiting or not heartbeat.stale(seen):
        return []
    since = (
        "none has been seen" if seen is None else f"none seen since {seen:%Y-%m-%d %H:%M:%S} UTC"
    )
    return [
        f"{waiting} webhook deliveries wait and {since}: start `flask webhooks work` (the "
        "webhook worker, apart from the mail worker)."
    ]


def examine() -> list[str]:
    """Everything found wrong, in plain words; an empty list means healthy."""
    config = current_app.config
    problems = _configuration(config)
    checks = readiness()
    for name, verdict in checks.items():
        if verdict != "ok":
            problems.append(f"{name}: {verdict}")
    if checks.get("database") != "ok":
        return problems
    smtp = _smtp(config)
    if smtp:
        problems.append(smtp)
    problems.extend(_worker())
    problems.extend(_webhook_worker())
    problems.extend(_keys())
    return problems
