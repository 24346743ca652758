"""One profile for every brand: a change anywhere is one profile.updated event, and expiries
and erasures reach integrating systems through the same feed."""

from portal.core.consent import changes as consent
from portal.core.consent.changes import Origin
from portal.core.people import profile, subjects
from portal.extensions import db
from tests.actions import confirm, confirmation_link, deliver, sign_up


def _active(client, smtp, address="profile@example.com"):
    sign_up(client, address)
    deliver()
    confirm(client, confirmation_link(smtp.to(address)[0]))
    return subjects.find(1, address)


def _events(api):
    return api.get("/events?limit=1000").get_json()["events"]


def test_a_profile_change_is_one_event_with_the_changed_fields(client, demo, smtp, make_api):
    subject = _active(client, smtp)
    crm = make_api()
    camille = make_api(brands=["camille"], name="Camille tills")
    vespera = make_api(brands=["vespera"], name="Vespera shop")
    profile.edit(subject, profile.FIRST_NAME, "Ann", "subject")
    [event] = [e for e in _events(crm) if e["type"] == "profile.updated"]
    assert event["data"] == {"subject_id": subject.id, "changed": {"first_name": "Ann"}}
    assert [e["type"] for e in _events(camille)].count("profile.updated") == 1
    # A client of a brand the person is not with never receives their details.
    assert "profile.updated" not in [e["type"] for e in _events(vespera)]
    profile.edit(subject, profile.FIRST_NAME, None, "subject")
    last = [e for e in _events(crm) if e["type"] == "profile.updated"][-1]
    assert last["data"]["changed"] == {"first_name": None}


def test_an_expiry_reaches_the_feed_as_a_withdrawal_by_retention(client, demo, smtp, make_api):
    subject = _active(client, smtp, "lapse@example.com")
    crm = make_api()
    consent.expire(subject, "repermission", Origin(source="retention", actor="retention"))
    db.session.commit()
    lapsed = [e["data"] for e in _events(crm) if e["type"] == "consent.changed"][-2:]
    assert {(d["state"], d["source"]) for d in lapsed} == {("withdrawn", "retention")}


def test_the_values_are_encrypted_at_rest_and_gone_after_erasure(client, demo, smtp, make_api):
    import sqlalchemy as sa

    from portal.core.people import erasure

    subject = _active(client, smtp, "secret@example.com")
    crm = make_api()
    profile.edit(subject, profile.LAST_NAME, "Zanzibarovna", "subject")
    raw = db.session.execute(sa.text("SELECT payload, personal FROM event")).all()
    assert "Zanzibarovna" not in str(raw)
    erasure.erase(subject, "subject", Origin(source="preference_centre", actor="subject"))
    kept = [e for e in _events(crm) if e["type"] == "profile.updated"]
    assert kept and all("changed" not in e["data"] for e in kept)  # no gap, no personal data
