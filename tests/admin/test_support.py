"""Support lookup with a reason and an access-log row; withdrawals recorded for a person."""

import re

from sqlalchemy import select

from portal.core.consent.models import Consent, LedgerEntry
from portal.core.console.models import AccessEntry, AuditEntry
from portal.core.people.models.erasure import ErasureRecord
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.actions import confirm, confirmation_link, deliver, log_in, post, sign_up
from tests.factories import brand, brand_admin, make_admin


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
    # Each entry numbered by its place in the person's own chain.
    assert re.findall(r"<tr><td>(\w+)</td><td><time [^>]+>\w+ \d{1,2}, \d{4}, ", page) == [
        "1",
        "2",
        "3",
        "4",
    ]
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
    assert (
        f'<li><a href="#f-requested_by-{row.id}">How did the person ask?: Say how the person asked.'
        in page
    )  # in the summary too, named by the field's label
    lookup = post(client, "/admin/support", {"email": "ann@example.com", "reason": "complaint"})
    # The field names the browser sends, read from the page itself.
    shown = lookup.get_data(as_text=True)
    assert f'id="f-reason-{row.id}" name="reason"' in shown
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


def _erase(client, subject_id, confirm=None, requested_by="letter", reason="letter of 3 March"):
    data = {"subject": subject_id, "requested_by": requested_by, "reason": reason}
    if confirm:
        data["confirm"] = "1"
    return post(client, "/admin/support/erase", data)


def test_starting_an_erasure_asked_by_letter(client, demo, smtp):
    _subscribe(client, smtp, "ann@example.com")
    owner = make_admin(demo, "owner", "boss@luxe.example")
    log_in(client, owner)
    lookup = post(client, "/admin/support", {"email": "ann@example.com", "reason": "letter"})
    assert "Start an erasure" in lookup.get_data(as_text=True)
    subject = db.session.scalar(select(Subject))
    refused = _erase(client, subject.id, requested_by="", reason="")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'id="f-erase-requested_by-error"' in page and 'id="f-erase-reason-error"' in page
    summary = page.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    assert re.findall(r'<a href="#(f-[a-z_-]+)">', summary) == [
        "f-erase-requested_by",
        "f-erase-reason",
    ]
    assert "Reason for the erasure: " in summary
    assert "ann@example.com" in page  # the person's page again, to correct the form
    question = _erase(client, subject.id)
    page = question.get_data(as_text=True)
    assert "Erase this person?" in page and "cannot be undone" in page
    assert "ann@example.com" not in page
    assert db.session.scalar(select(Subject)) is not None  # nothing happens before the answer
    done = _erase(client, subject.id, confirm=True)
    page = done.get_data(as_text=True)
    record = db.session.scalar(select(ErasureRecord))
    assert done.status_code == 200 and "The person is erased" in page
    assert record.id in page and "consents_withdrawn" in page
    assert "ann@example.com" not in page
    assert record.requested_by == f"admin:{owner.id}" and "3 March" not in record.reason
    db.session.expire_all()
    assert db.session.scalar(select(Subject)) is None
    withdrawal = db.session.scalar(select(LedgerEntry).where(LedgerEntry.action == "withdrawn"))
    assert (withdrawal.source, withdrawal.evidence) == ("admin", {"requested_by": "letter"})
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "subject.erase"))
    assert audit.target == f"erasure:{record.id}" and audit.after["requested_by"] == "letter"
    accesses = db.session.scalars(select(AccessEntry).order_by(AccessEntry.id)).all()
    assert [a.action for a in accesses] == ["lookup", "erase"]  # the lookup outlives the person
    # Who erased whom and when stays; the words typed about the person went with their key.
    assert accesses[0].reason is None and accesses[1].reason is None
    assert accesses[1].detail == f"erasure:{record.id}"
    assert _erase(client, subject.id, confirm=True).status_code == 404  # nobody left to erase


def test_only_brand_admins_of_a_brand_the_person_is_at_may_erase(client, demo, smtp):
    _subscribe(client, smtp, "vee@example.com", "vespera")
    subject = db.session.scalar(select(Subject))
    log_in(client, brand_admin(demo, "camille"))
    page = post(client, "/admin/support", {"email": "vee@example.com", "reason": "complaint"})
    assert "Start an erasure" not in page.get_data(as_text=True)
    assert _erase(client, subject.id).status_code == 404
    assert _erase(client, subject.id, confirm=True).status_code == 404
    assert db.session.scalar(select(ErasureRecord)) is None
    assert db.session.get(Subject, subject.id) is not None
