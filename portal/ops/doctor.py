"""``flask doctor``: check the configuration, database, SMTP and worker; say what is wrong."""

import smtplib
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from portal.core.kernel import clock
from portal.core.mail.models import QUEUED, OutboxMessage
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
    return problems


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


def _worker() -> str | None:
    oldest = db.session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(OutboxMessage.status == QUEUED)
    )
    if oldest is not None and clock.now() - oldest > timedelta(minutes=10):
        return (
            "mail has been due for more than 10 minutes: is `flask outbox work` running? "
            "If it is, it cannot reach the SMTP server."
        )
    return None


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
    for check in (_smtp(config), _worker()):
        if check:
            problems.append(check)
    return problems
