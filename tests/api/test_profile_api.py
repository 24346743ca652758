"""Profile attributes through the API: names, mobile number, postal address, with their source
and last confirmation, under the scopes profile:read and profile:write."""

from portal.core.kernel import clock
from portal.core.people import profile, subjects
from tests.api.conftest import NOW, capture

POSTAL = {"lines": ["12 rue de la Paix"], "postcode": "75002", "city": "Paris", "country": "FR"}


def _person(api, email="ada@example.org") -> int:
    return api.post("/consents", json=capture(email=email)).json["subject_id"]


def _profile_events(api):
    return [e["data"] for e in api.get("/events").json["events"] if e["type"] == "profile.updated"]


def test_a_client_sets_and_reads_profile_fields_with_their_source(make_api):
    clock.freeze(NOW)  # the conftest's fixture lets it go after the test
    crm = make_api(name="CRM")
    ada = _person(crm)
    empty = crm.get(f"/subjects/{ada}/profile")
    assert empty.status_code == 200
    assert empty.json["fields"]["first_name"] == {
        "value": None,
        "source": None,
        "last_confirmed": None,
        "updated_at": None,
    }
    body = {"first_name": "Ada", "mobile_number": "+33 6 12 34 56 78", "postal_address": POSTAL}
    answer = crm.patch(f"/subjects/{ada}/profile", json=body)
    assert answer.status_code == 200, answer.json
    assert set(answer.json["fields"]) == {"first_name", "mobile_number", "postal_address"}
    mobile = answer.json["fields"]["mobile_number"]
    assert (mobile["value"], mobile["source"]) == ("+33612345678", "api:CRM")
    assert mobile["last_confirmed"] == NOW.isoformat()
    read = crm.get(f"/subjects/{ada}/profile").json["fields"]
    assert read["postal_address"]["value"] == POSTAL
    assert read["last_name"]["value"] is None
    # One profile.updated event per changed field, as for every other change.
    assert [sorted(d["changed"]) for d in _profile_events(crm)] == [
        ["first_name"],
        ["mobile_number"],
        ["postal_address"],
    ]
    crm.patch(f"/subjects/{ada}/profile", json={"first_name": None})
    assert crm.get(f"/subjects/{ada}/profile").json["fields"]["first_name"]["value"] is None
    assert _profile_events(crm)[-1]["changed"] == {"first_name": None}


def test_the_person_s_own_edit_reads_as_theirs(demo, make_api):
    crm = make_api(name="CRM")
    ada = _person(crm)
    subject = subjects.find(demo.id, "ada@example.org")
    profile.edit(subject, profile.LAST_NAME, "Lovelace", "subject")
    field = crm.get(f"/subjects/{ada}/profile").json["fields"]["last_name"]
    assert (field["value"], field["source"]) == ("Lovelace", "person")


def test_bad_values_are_refused_by_field_and_nothing_is_written(make_api):
    crm = make_api()
    ada = _person(crm)
    bad = crm.patch(
        f"/subjects/{ada}/profile", json={"first_name": "Ada", "mobile_number": "+33 1 23"}
    )
    assert bad.status_code == 422
    assert bad.json["errors"][0]["field"] == "mobile_number"
    assert crm.get(f"/subjects/{ada}/profile").json["fields"]["first_name"]["value"] is None
    assert crm.patch(f"/subjects/{ada}/profile", json={}).status_code == 422


def test_scopes_terms_and_brand_walls(make_api):
    reader = make_api(scopes=["consent:write", "profile:read"], name="reader")
    writer = make_api(scopes=["consent:write", "profile:write"], terms=False, name="writer")
    ada = _person(reader)
    assert reader.patch(f"/subjects/{ada}/profile", json={"first_name": "A"}).status_code == 403
    assert writer.get(f"/subjects/{ada}/profile").status_code == 403
    # Writing needs no processing terms: the client is the source of what it writes.
    assert writer.patch(f"/subjects/{ada}/profile", json={"first_name": "A"}).status_code == 200
    group, vespera = make_api(name="group"), make_api(name="vespera", brands=["vespera"])
    hidden = _person(group, "hidden@example.org")
    assert vespera.get(f"/subjects/{hidden}/profile").status_code == 404
    assert vespera.patch(f"/subjects/{hidden}/profile", json={"first_name": "B"}).status_code == 404
