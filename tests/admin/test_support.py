"""Support lookup with a reason and an access-log row; withdrawals recorded for a person."""

from sqlalchemy import select

from portal.core.models import AccessEntry, AuditEntry, Consent, LedgerEntry
from portal.extensions import db
from tests.actions import confirm, confirmation_link, deliver, sign_up
from tests.admin.helpers import brand, brand_admin, log_in, make_admin, post


def _subscribe(client, smtp, address, brand_slug="camille"):
    sign_up(client, address, brand=brand_slug)
    deliver()
    confirm(client, confirmation_link(smtp.to(address)[-1]))


def test_a_lookup_needs_a_reason_and_is_logged(client, demo, smtp):
    _subscribe(client, smtp, "ann@example.com")
    owner = make_admin(demo, "owner", "boss@luxe.example")
    log_in(client, owner)
    refused = post(client, "/admin/support", {"email": "Ann@Example.com", "reason": ""})
    assert refused.status_code == 422
    assert "Say why you look this person up" in refused.get_data(as_text=True)
    assert db.session.scalar(select(AccessEntry)) is None
    found = post(client, "/admin/support", {"email": "Ann@Example.com", "reason": "phone call 12"})
    page = found.get_data(as_text=True)
    assert "ann@example.com" in page
    assert "granted" in page and "double_opt_in" in page
    assert "I agree that Camille may send me" in page  # the text version they saw
    [entry] = db.session.scalars(select(AccessEntry)).all()
    assert (
        entry.admin_id == owner.id and entry.reason == "phone call 12" and entry.action == "lookup"
    )
    missing = post(client, "/admin/support", {"email": "nobody@example.com", "reason": "complaint"})
    assert "No one with this address" in missing.get_data(as_text=True)
    assert (
        db.session.scalar(select(AccessEntry).order_by(AccessEntry.id.desc())).detail == "not found"
    )


def test_recording_a_withdrawal_asked_by_phone(client, demo, smtp):
    _subscribe(client, smtp, "ann@example.com")
    owner = make_admin(demo, "owner", "boss@luxe.example")
    log_in(client, owner)
    row = db.session.scalars(select(Consent).order_by(Consent.id)).first()
    bad = post(client, "/admin/support/withdraw", {"consent": row.id, "reason": "x"})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert f'id="f-requested_by-{row.id}-error"' in page and "ann@example.com" in page
    done = post(
        client,
        "/admin/support/withdraw",
        {"consent": row.id, "requested_by": "phone", "reason": "called on Monday"},
    )
    assert done.status_code == 200 and "The withdrawal is recorded" in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Consent, row.id).state == "withdrawn"
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.action == "withdrawn"))
    assert (entry.source, entry.actor) == ("admin", f"admin:{owner.id}")
    assert entry.evidence == {"requested_by": "phone"}
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "consent.withdraw"))
    assert audit.before == {"state": "granted"} and audit.after == {"state": "withdrawn"}


def test_a_brand_admin_sees_only_their_brands(client, demo, smtp):
    _subscribe(client, smtp, "ann@example.com", "camille")
    _subscribe(client, smtp, "ann@example.com", "vespera")
    log_in(client, brand_admin(demo, "camille"))
    page = post(client, "/admin/support", {"email": "ann@example.com", "reason": "complaint"})
    html = page.get_data(as_text=True)
    assert "Camille" in html and "Vespera ·" not in html
    vespera = db.session.scalar(select(Consent).where(Consent.brand_id == brand("vespera").id))
    refused = post(
        client,
        "/admin/support/withdraw",
        {"consent": vespera.id, "requested_by": "phone", "reason": "complaint"},
    )
    assert refused.status_code == 404
    assert db.session.get(Consent, vespera.id).state == "granted"
