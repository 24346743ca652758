"""The audit log of admin actions and the access log of personal-data views, filterable and
exportable as CSV (owners only)."""

from datetime import UTC, datetime, timedelta

from flask import g, render_template, request

from portal.admin import blueprint, require
from portal.core import audit, team


def _filters() -> audit.Filters:
    def day(name):
        try:
            return datetime.fromisoformat(request.args.get(name, "")).replace(tzinfo=UTC)
        except ValueError:
            return None

    until = day("until")
    try:
        admin_id = int(request.args.get("admin", ""))
    except ValueError:
        admin_id = None
    return audit.Filters(
        action=request.args.get("action", "").strip()[:40],
        admin_id=admin_id,
        since=day("since"),
        until=until + timedelta(days=1) if until else None,
    )


def _csv(body: str, name: str):
    return (
        body,
        200,
        {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


@blueprint.get("/audit")
def audit_log():
    require("view_audit")
    filters = _filters()
    return render_template(
        "admin/audit.html",
        entries=audit.entries(g.admin.group_id, filters),
        filters=filters,
        members=team.members(g.admin.group_id),
        access=False,
    )


@blueprint.get("/audit.csv")
def audit_csv():
    require("view_audit")
    return _csv(audit.audit_csv(g.admin.group_id, _filters()), "audit-log.csv")


@blueprint.get("/access-log")
def access_log():
    require("view_audit")
    filters = _filters()
    return render_template(
        "admin/audit.html",
        entries=audit.accesses(g.admin.group_id, filters),
        filters=filters,
        members=team.members(g.admin.group_id),
        access=True,
    )


@blueprint.get("/access-log.csv")
def access_csv():
    require("view_audit")
    return _csv(audit.access_csv(g.admin.group_id, _filters()), "access-log.csv")
