"""The audit log is append-only, filterable and exportable; the access log sits beside it."""

import pytest
from sqlalchemy import select

from portal.core.console import audit
from portal.core.console.models import AuditEntry
from portal.core.kernel.transaction import commit_session
from portal.extensions import db
from tests.actions import log_in, post
from tests.factories import brand, make_admin


def test_filter_and_export(client, demo):
    owner = make_admin(demo, "owner", "boss@luxe.example")
    log_in(client, owner)
    camille = brand("camille")
    post(client, f"/admin/brands/{camille.id}/archive", {"archived": "1"})
    page = _timeline(client.get("/admin/audit?action=brand.archive"))
    assert "<strong>boss@luxe.example</strong> archived the brand Camille" in page
    assert "signed in to the console" not in page
    everything = _timeline(client.get("/admin/audit"))
    assert "<strong>boss@luxe.example</strong> signed in to the console" in everything
    export = client.get("/admin/audit.csv?action=brand.archive").get_data(as_text=True)
    lines = export.strip().splitlines()
    assert lines[0].startswith("id,at,actor,action")
    assert len(lines) == 2 and f"admin:{owner.id},brand.archive,brand:{camille.id}" in lines[1]
    post(client, "/admin/support", {"email": "x@example.com", "reason": "=HYPERLINK(1)"})
    access = client.get("/admin/access-log.csv").get_data(as_text=True)
    assert "'=HYPERLINK(1)" in access  # no formula for a spreadsheet to run


def _timeline(answer) -> str:
    """The log's rows as the page shows them (the filter's list of actions left out)."""
    html = answer.get_data(as_text=True)
    start = html.find('<ol class="timeline">')
    return html[start : html.find("</ol>", start)] if start >= 0 else ""


def test_a_change_reads_as_a_sentence_with_before_and_after(client, demo):
    owner = make_admin(demo, "owner", "boss@luxe.example")
    log_in(client, owner)
    camille = brand("camille")
    with commit_session():
        audit.record(
            demo.id,
            owner,
            "brand.update",
            f"brand:{camille.id}",
            before={"colour": "#1f3a5f", "reply_to": "hello@"},
            after={"colour": "#243b6b", "reply_to": "hello@"},
        )
    page = _timeline(client.get("/admin/audit?action=brand.update"))
    assert "<strong>boss@luxe.example</strong> changed the brand Camille" in page
    assert "colour: <del>#1f3a5f</del> → <ins>#243b6b</ins>" in page
    assert "reply-to" not in page  # unchanged fields are not listed


def test_the_log_is_paged_newest_first(client, demo):
    owner = make_admin(demo, "owner", "boss@luxe.example")
    log_in(client, owner)
    camille = brand("camille")
    with commit_session():
        for number in range(55):
            audit.record(demo.id, owner, "topic.update", f"brand:{camille.id}", after={"n": number})
    first = client.get("/admin/audit?action=topic.update").get_data(as_text=True)
    assert first.count("<del>") == 50 and "<ins>54</ins>" in first and 'rel="next"' in first
    second = client.get("/admin/audit?action=topic.update&page=2").get_data(as_text=True)
    assert second.count("<del>") == 5 and "<ins>0</ins>" in second
    assert 'rel="prev"' in second and 'rel="next"' not in second


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
