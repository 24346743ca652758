"""Health checks for load balancers: /healthz (the process is up), /readyz (it can serve).

Readiness speaks for this instance only: its database answers and is at the code's migration.
A backlog of mail or a stopped worker is not a reason to take every app server out of the
load balancer at once; those go to /metrics and to `flask doctor`."""

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from portal.extensions import db

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    return jsonify(status="ok")


def migration_state() -> tuple[str | None, set[str]]:
    """(revision the database is at, head revisions of the code)."""
    script = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())
    with db.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current, set(script.get_heads())


def readiness() -> dict[str, str]:
    """Each check's verdict in plain words; all "ok" means ready."""
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - report, do not crash the probe
        db.session.rollback()
        return {"database": f"unreachable: {type(error).__name__}"}
    current, heads = migration_state()
    checks["migrations"] = (
        "ok" if current in heads else f"at {current}, the code expects {sorted(heads)}"
    )
    return checks


@blueprint.get("/readyz")
def readyz():
    checks = readiness()
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503
