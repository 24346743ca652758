"""The audit log of admin actions and the access log of personal-data views, filterable and
exportable as CSV (owners only)."""

from datetime import UTC, datetime, timedelta

from flask import g, render_template, request

from portal.admin import blueprint, log_words, require
from portal.core.console import audit, team


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


PER_PAGE = 50


def _page(rows, access: bool):
    """The log page: ``rows`` reads the filtered log, ``access`` picks the access log's tab.
    Newest first, 50 rows a page (``?page=2`` the next 50)."""
    require("view_audit")
    filters = _filters()
    try:
        number = max(1, int(request.args.get("page", "1")))
    except ValueError:
        number = 1
    found = rows(g.admin.group_id, filters, limit=PER_PAGE + 1, offset=(number - 1) * PER_PAGE)
    args = {key: value for key, value in request.args.items() if key != "page"}
    return render_template(
        "admin/audit.html",
        lines=log_words.lines(found[:PER_PAGE], access),
        filters=filters,
        members=team.members(g.admin.group_id),
        actions=log_words.action_choices(access),
        access=access,
        page=number,
        more=len(found) > PER_PAGE,
        args=args,
    )


def _download(csv_text, name: str):
    """The filtered log as a CSV attachment, ``csv_text`` writing it."""
    require("view_audit")
    return (
        csv_text(g.admin.group_id, _filters()),
        200,
        {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


@blueprint.get("/audit")
def audit_log():
    return _page(audit.entries, access=False)


@blueprint.get("/audit.csv")
def audit_csv():
    return _download(audit.audit_csv, "audit-log.csv")


@blueprint.get("/access-log")
def access_log():
    return _page(audit.accesses, access=True)


@blueprint.get("/access-log.csv")
def access_csv():
    return _download(audit.access_csv, "access-log.csv")
