"""Is mail going out? The state of delivery and of the worker, for the console's banner and
page and for ``flask doctor``; and a test mail to an admin, through the outbox like any other.

Mail counts as failing when messages wait for a retry after a refused attempt, or when a
message has failed every attempt in the last day: either way people are not getting mail.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.core.kernel import clock, heartbeat
from portal.core.kernel.transaction import commit_session
from portal.core.mail import mails
from portal.core.mail.models import FAILED, QUEUED, OutboxMessage
from portal.extensions import db


@dataclass
class Health:
    worker_seen_at: datetime | None
    worker_stale: bool
    queued: int
    retrying: int
    failed_today: int
    failed: int
    last_sent_at: datetime | None
    last_error: str | None

    @property
    def mail_failing(self) -> bool:
        return self.retrying > 0 or self.failed_today > 0

    @property
    def healthy(self) -> bool:
        return not self.worker_stale and not self.mail_failing


def _count(*where) -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(*where))


def state() -> Health:
    """Delivery and worker state across the installation (mail is one pipe for all groups)."""
    seen = heartbeat.last_seen()
    day_ago = clock.now() - timedelta(days=1)
    retrying = (OutboxMessage.status == QUEUED, OutboxMessage.attempts > 0)
    last_error = db.session.scalar(
        select(OutboxMessage.last_error)
        .where(OutboxMessage.last_error.is_not(None), OutboxMessage.status.in_((QUEUED, FAILED)))
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    return Health(
        worker_seen_at=seen,
        worker_stale=heartbeat.stale(seen),
        queued=_count(OutboxMessage.status == QUEUED),
        retrying=_count(*retrying),
        failed_today=_count(OutboxMessage.status == FAILED, OutboxMessage.created_at >= day_ago),
        failed=_count(OutboxMessage.status == FAILED),
        last_sent_at=db.session.scalar(select(func.max(OutboxMessage.sent_at))),
        last_error=last_error,
    )


def send_test(group_id: int, address: str, sender: tuple[str, str], language: str) -> None:
    """Queue a test mail to an admin's own address; the worker sends it like any other."""
    with force_locale(language), commit_session():
        title = _("Consent portal: test mail")
        mails.to_admin(group_id, "admin_test", address, sender, title, language)
