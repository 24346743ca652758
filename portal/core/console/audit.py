"""The audit log of admin actions and the access log of personal-data views.

Both are append-only: ``record`` and ``accessed`` add a row inside the caller's transaction,
so an action and its audit row land together or not at all; nothing updates or deletes them.
"""

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import event, select

from portal.core.console.models import AccessEntry, AdminAccount, AuditEntry
from portal.core.kernel import clock
from portal.extensions import db


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
@event.listens_for(AccessEntry, "before_update")
@event.listens_for(AccessEntry, "before_delete")
def _append_only(mapper, connection, target):
    raise RuntimeError(f"{type(target).__name__} rows are append-only")


def _actor(admin: AdminAccount | None) -> tuple[int | None, str]:
    return (admin.id, admin.label) if admin is not None else (None, "cli")


def api_actor(client_name: str) -> str:
    """How an API client is named as the actor of what it did (as a profile's source)."""
    return f"api:{client_name}"


def record(
    group_id: int,
    admin: AdminAccount | None,
    action: str,
    target: str = "",
    *,
    brand_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
    actor: str | None = None,
) -> AuditEntry:
    """Add one audit row in the caller's transaction; ``admin`` None means the command line,
    unless ``actor`` names another (an API client, ``api_actor``)."""
    admin_id, actor = _actor(admin) if actor is None else (None, actor)
    entry = AuditEntry(
        group_id=group_id,
        admin_id=admin_id,
        actor=actor,
        at=clock.now(),
        action=action,
        target=target,
        brand_id=brand_id,
        before=before,
        after=after,
    )
    db.session.add(entry)
    return entry


def accessed(admin: AdminAccount, action: str, subject_id: int | None, reason: str, detail=None):
    """Add one access-log row: ``admin`` saw (or acted on) a person's data for ``reason``."""
    entry = AccessEntry(
        group_id=admin.group_id,
        admin_id=admin.id,
        at=clock.now(),
        action=action,
        subject_id=subject_id,
        reason=reason,
        detail=detail,
    )
    db.session.add(entry)
    return entry


@dataclass
class Filters:
    action: str = ""
    admin_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def _filtered(model, group_id: int, filters: Filters):
    query = select(model).where(model.group_id == group_id)
    if filters.action and hasattr(model, "action"):
        query = query.where(model.action == filters.action)
    if filters.admin_id:
        query = query.where(model.admin_id == filters.admin_id)
    if filters.since:
        query = query.where(model.at >= filters.since)
    if filters.until:
        query = query.where(model.at < filters.until)
    return query.order_by(model.id.desc())


def entries(
    group_id: int, filters: Filters, limit: int | None = 200, offset: int = 0
) -> list[AuditEntry]:
    query = _filtered(AuditEntry, group_id, filters).limit(limit).offset(offset)
    return list(db.session.scalars(query))


def accesses(
    group_id: int, filters: Filters, limit: int | None = 200, offset: int = 0
) -> list[AccessEntry]:
    query = _filtered(AccessEntry, group_id, filters).limit(limit).offset(offset)
    return list(db.session.scalars(query))


def _csv(header: list[str], rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def audit_csv(group_id: int, filters: Filters) -> str:
    header = ["id", "at", "actor", "action", "target", "brand_id", "before", "after"]
    rows = (
        [
            row.id,
            row.at.isoformat(),
            row.actor,
            row.action,
            safe_cell(row.target),
            row.brand_id or "",
            safe_cell(_json(row.before)),
            safe_cell(_json(row.after)),
        ]
        for row in entries(group_id, filters, limit=None)
    )
    return _csv(header, rows)


def access_csv(group_id: int, filters: Filters) -> str:
    header = ["id", "at", "admin_id", "action", "subject_id", "reason", "detail"]
    rows = (
        [
            row.id,
            row.at.isoformat(),
            row.admin_id,
            row.action,
            row.subject_id or "",
            safe_cell(row.reason),
            safe_cell(row.detail),
        ]
        for row in accesses(group_id, filters, limit=None)
    )
    return _csv(header, rows)


def _json(value) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def safe_cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
