"""The "My data" page: everything held, at the "full" level only, every field editable."""

import pytest

from portal.core.kernel.errors import InvalidFields
from portal.core.kernel.models.group import SiteGroup
from portal.core.people import profile, subjects
from portal.extensions import db
from tests.actions import (
    PAGE,
    deliver,
    fill_in_everything,
    manage_link,
    open_manage_link,
    post_profile,
    sign_up,
    signed_in,
    subscribed,
)
from tests.factories import START


def test_my_data_needs_a_fresh_magic_link(client, demo, smtp):
    assert "/preferences/sign-in" in client.get(PAGE).headers["Location"]
    subscribed(client, smtp, "footer@example.com")
    sign_up(client, "footer@example.com")  # an "already registered" mail, with its footer link
    deliver()
    open_manage_link(client, manage_link(smtp.to("footer@example.com")[-1]))
    answer = client.get(PAGE)
    assert answer.status_code == 302
    assert "/preferences/confirm-it-is-you?next=/luxe/my-data/" in answer.headers["Location"]
    assert client.get(f"{PAGE}download.json").status_code == 302


def test_the_page_shows_everything_held(client, demo, smtp):
    signed_in(client, smtp, "all@example.com")
    html = client.get(PAGE).get_data(as_text=True)
    assert "all@example.com" in html
    for label in ("First name", "Last name", "Preferred language", "Mobile number"):
        assert label in html
    assert "Postal address" in html and "Date of birth" in html
    assert html.count("<caption>Camille · ") == 2  # the two consents, each with its history
    assert "Asked for" in html and "Confirmed by you" in html
    assert "by email sign-up" in html
    assert "Where and when you signed up" in html
    assert "No other system reads your data" in html
    assert "Download as JSON" in html


def test_a_group_that_does_not_collect_a_date_of_birth_never_asks(client, demo, smtp):
    db.session.get(SiteGroup, demo.id).collect_date_of_birth = False
    db.session.commit()
    signed_in(client, smtp, "nodob@example.com")
    assert "Date of birth" not in client.get(PAGE).get_data(as_text=True)
    answer = post_profile(client, birth_day="1", birth_month="2", birth_year="1990")
    assert answer.status_code == 200 and "Date of birth" not in answer.get_data(as_text=True)
    subject = subjects.find(demo.id, "nodob@example.com")
    assert profile.BIRTH not in profile.fields_of(subject)


def test_every_field_is_saved_and_confirmed(client, demo, smtp):
    signed_in(client, smtp, "edit@example.com")
    fill_in_everything(
        client,
        first_name="  Zéphyrine ",
        last_name="Quillfeather-Ng",
        preferred_language="fr",
        mobile_number="+33 6 12 34 56 78",
        postal_line1="17 rue des Capucines",
        postal_postcode="75002",
        postal_city="Paris",
        postal_country="FR",
        birth_day="23",
        birth_month="4",
        birth_year="1990",
    )
    html = client.get(PAGE + "?lang=en").get_data(as_text=True)
    for shown in ('value="Zéphyrine"', 'value="Quillfeather-Ng"', 'value="+33612345678"'):
        assert shown in html
    assert 'value="17 rue des Capucines"' in html and 'value="FR" selected' in html
    assert 'value="23"' in html and 'value="1990"' in html
    assert html.count("Last confirmed on") == 7  # the address and six fields
    assert "last changed on" in html and "by you" in html
    assert subjects.find(demo.id, "edit@example.com").language == "fr"  # mails follow


def test_a_bad_value_is_refused_in_place_keeping_what_was_typed(client, demo, smtp):
    signed_in(client, smtp, "bad@example.com")
    answer = post_profile(client, mobile_number="+33 1 23")
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert 'aria-invalid="true"' in html and 'aria-describedby="in-mobile_number-error' in html
    assert 'value="+33 1 23"' in html and "not a valid phone number" in html
    answer = post_profile(client, birth_day="31", birth_month="2", birth_year="1990")
    assert answer.status_code == 422 and "This date does not exist" in answer.get_data(True)
    answer = post_profile(client, first_name="a\x00b")
    assert answer.status_code == 422
    answer = post_profile(client, preferred_language="xx")
    assert answer.status_code == 422 and "Choose one of the languages" in answer.get_data(True)


def test_one_wrong_field_saves_nothing_and_the_summary_names_each_in_form_order(client, demo, smtp):
    signed_in(client, smtp, "all-or-nothing@example.com")
    answer = post_profile(
        client,
        first_name="Nouveau",
        mobile_number="+33 1 23",
        postal_line1="17 rue des Capucines",
        birth_day="31",
        birth_month="2",
        birth_year="1990",
    )
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    start = html.index('class="error-summary"')
    summary = html[start : html.index("</ul>", start)]
    mobile = summary.index('<a href="#in-mobile_number">Mobile number: This is not a valid')
    postal = summary.index('<a href="#in-postal_postcode">Postal address: Enter the postcode.')
    birth = summary.index('<a href="#in-birth_day">Date of birth: This date does not exist')
    assert mobile < postal < birth
    assert 'value="Nouveau"' in html and 'value="17 rue des Capucines"' in html  # kept
    page = client.get(PAGE).get_data(as_text=True)
    assert 'value="Nouveau"' not in page and "Last confirmed on" not in page.split("h-profile")[1]


def test_with_htmx_only_the_profile_section_comes_back(client, demo, smtp):
    signed_in(client, smtp, "htmx@example.com")
    htmx = {"HX-Request": "true"}
    answer = post_profile(client, headers=htmx, last_name="Ives", mobile_number="+33612345678")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert html.lstrip().startswith('<section class="panel block" id="profile-section"')
    assert "<html" not in html and "Saved" in html and 'value="Ives"' in html
    cleared = post_profile(client, headers=htmx, last_name="").get_data(as_text=True)
    assert 'value="Ives"' not in cleared and "Saved" in cleared
    refused = post_profile(client, headers=htmx, mobile_number="")
    assert refused.status_code == 200  # htmx swaps only 2xx answers
    html = refused.get_data(as_text=True)
    assert 'aria-invalid="true"' in html and "Saved" not in html
    assert "Mobile number: This field cannot be left empty." in html
    assert 'value="+33612345678"' in client.get(PAGE).get_data(as_text=True)


def test_saving_the_profile_confirms_each_field_given_and_announces_each_change(client, demo, smtp):
    from portal.core.integrations.models.event import Event

    signed_in(client, smtp, "events@example.com")
    subject = subjects.find(demo.id, "events@example.com")
    before = db.session.query(Event).count()
    assert post_profile(client, first_name="Ann", last_name="Lee").status_code == 200
    assert db.session.query(Event).count() - before == 3  # two names and the language
    held = profile.fields_of(subject)
    assert {profile.FIRST_NAME, profile.LAST_NAME, profile.LANGUAGE} == set(held)
    assert post_profile(client).status_code == 200  # nothing changed: confirmed again only
    assert db.session.query(Event).count() - before == 3


def test_edit_all_names_every_field_refused_and_saves_nothing(app, client, demo, smtp):
    signed_in(client, smtp, "core@example.com")
    subject = subjects.find(demo.id, "core@example.com")
    profile.edit(subject, profile.MOBILE, "+33612345678", "subject")
    db.session.get(SiteGroup, demo.id).collect_date_of_birth = False
    db.session.commit()
    values = {profile.FIRST_NAME: "Ann", profile.MOBILE: None, profile.BIRTH: "1990-01-01"}
    with pytest.raises(InvalidFields) as refused:
        profile.edit_all(subject, values, "subject")
    assert set(refused.value.errors) == {profile.MOBILE, "form"}
    assert profile.FIRST_NAME not in profile.fields_of(subject)


def test_recipients_are_the_api_clients_that_can_read_the_person(client, demo, smtp):
    from portal.core.integrations import clients
    from portal.core.people import mydata

    signed_in(client, smtp, "recipients@example.com")  # consents at Camille
    subject = subjects.find(demo.id, "recipients@example.com")
    assert mydata.recipients(subject) == []
    terms = ("We process LÜXE's data only as instructed.", START.date())
    clients.create("luxe", "Core CRM", ["consent:read"], None, False, terms)
    clients.create("luxe", "Camille boutiques", ["consent:read"], ["camille"], False, terms)
    clients.create("luxe", "Vespera shop", ["consent:read"], ["vespera"], False, terms)
    clients.create("luxe", "Test harness", ["consent:read"], None, False)  # no terms: no data
    revoked, _ = clients.create("luxe", "Old ESP", ["consent:read"], None, False, terms)
    clients.revoke(revoked.id)
    assert mydata.recipients(subject) == [
        {"name": "Camille boutiques", "brands": "Camille"},
        {"name": "Core CRM", "brands": None},
    ]
    page = client.get(PAGE).get_data(True)
    assert "These systems of LÜXE can read your data" in page
    assert "Core CRM" in page and "Vespera shop" not in page and "Old ESP" not in page
    assert "Test harness" not in page
