"""The audit log is append-only, filterable and exportable; the access log sits beside it."""

import pytest
from sqlalchemy import select

from portal.core.console.models import AuditEntry
from portal.extensions import db
from tests.admin.helpers import brand, log_in, make_admin, post


def test_filter_and_export(client, demo):
    owner = make_admin(demo, "owner", "boss@luxe.example")
    log_in(client, owner)
    camille = brand("camille")
    post(client, f"/admin/brands/{camille.id}/archive", {"archived": "1"})
    page = client.get("/admin/audit?action=brand.archive").get_data(as_text=True)
    assert "brand.archive" in page and "admin.login" not in page
    everything = client.get("/admin/audit").get_data(as_text=True)
    assert "admin.login" in everything
    export = client.get("/admin/audit.csv?action=brand.archive").get_data(as_text=True)
    lines = export.strip().splitlines()
    assert lines[0].startswith("id,at,actor,action")
    assert len(lines) == 2 and f"admin:{owner.id},brand.archive,brand:{camille.id}" in lines[1]
    post(client, "/admin/support", {"email": "x@example.com", "reason": "=HYPERLINK(1)"})
    access = client.get("/admin/access-log.csv").get_data(as_text=True)
    assert "'=HYPERLINK(1)" in access  # no formula for a spreadsheet to run


def test_audit_rows_cannot_be_changed(client, demo):
    log_in(client, make_admin(demo, "viewer"))  # writes an "admin.login" row
    entry = db.session.scalar(select(AuditEntry))
    entry.action = "forged"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.delete(db.session.scalar(select(AuditEntry)))
        db.session.commit()
    db.session.rollback()
