"""The centre: every brand, what the person holds and since when, changes without JS."""

from flask_babel import refresh
from sqlalchemy import select

from portal.core.consent.models import Consent, LedgerEntry
from portal.core.kernel.models.group import Topic
from portal.core.people.models.profile import ProfileField
from portal.extensions import db
from tests.actions import centre_form, save, sign_in, subscribed


def _topic(key: str, brand: str = "camille") -> Topic:
    from portal.core.kernel.models.group import Brand

    return db.session.scalar(select(Topic).join(Brand).where(Brand.slug == brand, Topic.key == key))


def _ledger() -> list[LedgerEntry]:
    return list(db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)))


def _state(topic: Topic, channel: str) -> str | None:
    row = db.session.scalar(
        select(Consent).where(Consent.topic_id == topic.id, Consent.channel == channel)
    )
    return row.state if row else None


def _open(client, smtp, email="centre@example.com"):
    subscribed(client, smtp, email)
    sign_in(client, smtp, email)
    return client.get("/luxe/preferences/").get_data(as_text=True)


def test_every_brand_is_shown_with_what_the_person_holds_and_since_when(client, demo, smtp):
    html = _open(client, smtp)
    for name in ("Camille", "Maison Aurèle", "Vespera", "Orsini Milano", "Kōgen", "Solenne"):
        assert name in html
    assert "Hartwell &amp; Ives" in html
    assert "by email sign-up on Camille" in html
    news = _topic("news")
    assert centre_form(html)[f"{news.id}:email"] is True
    assert centre_form(html)[f"{news.id}:post"] is False
    refresh()  # the test's app context outlives requests: forget the English of the last one
    french = client.get("/luxe/preferences/?lang=fr").get_data(as_text=True)
    assert "par inscription par email sur Camille" in french


def test_saving_without_javascript_changes_only_what_changed(client, demo, smtp):
    html = _open(client, smtp)
    before = len(_ledger())
    news, journal = _topic("news"), _topic("journal", "vespera")
    response = save(client, html, {f"{news.id}:email": False, f"{journal.id}:email": True})
    assert response.status_code == 200
    assert "Your choices are saved." in response.get_data(as_text=True)
    assert _state(news, "email") == "withdrawn"
    assert _state(journal, "email") == "granted"
    added = _ledger()[before:]
    assert [(e.action, e.source) for e in added] == [
        ("withdrawn", "preference_centre"),
        ("granted", "preference_centre"),
    ]
    # The same form again: nothing is in a new state, so no ledger row.
    save(client, response.get_data(as_text=True), {})
    assert len(_ledger()) == before + 2


def test_a_toggle_with_htmx_changes_one_consent_and_answers_with_its_row(client, demo, smtp):
    html = _open(client, smtp)
    offers = _topic("offers")
    form = {"csrf_token": html.split('name="csrf_token" value="')[1].split('"')[0]}
    form["shown"], form["consent"] = [f"{offers.id}:email:0"], [f"{offers.id}:email"]
    row = client.post(
        f"/luxe/preferences/row/{offers.id}/email", data=form, headers={"HX-Request": "true"}
    )
    text = row.get_data(as_text=True)
    assert row.status_code == 200
    assert text.lstrip().startswith(
        f'<div class="consent-row channel-email" id="row-{offers.id}-email">'
    )
    assert "Saved" in text and "in your preference centre on Camille" in text
    assert _state(offers, "email") == "granted"


def test_a_stale_form_does_not_overwrite_a_change_made_in_another_tab(client, demo, smtp):
    html = _open(client, smtp)
    news, events = _topic("news"), _topic("events")
    save(client, html, {f"{news.id}:email": False})  # "another tab"
    before = len(_ledger())
    stale = save(client, html, {f"{events.id}:email": False})
    text = stale.get_data(as_text=True)
    assert "changed in another window meanwhile: it is now off" in text
    assert _state(news, "email") == "withdrawn"  # not silently granted again
    assert _state(events, "email") == "withdrawn"
    assert len(_ledger()) == before + 1


def test_foreign_topics_and_channels_are_refused_and_nothing_changes(client, demo, smtp):
    html = _open(client, smtp)
    before = len(_ledger())
    care = _topic("care")  # email only
    for extra in (
        {"shown": ["99999:email:0"], "consent": ["99999:email"]},
        {"shown": [f"{care.id}:sms:0"], "consent": [f"{care.id}:sms"]},
        {"shown": ["x:fax:1"]},
    ):
        token = html.split('name="csrf_token" value="')[1].split('"')[0]
        response = client.post("/luxe/preferences/", data={"csrf_token": token, **extra})
        assert response.status_code == 422
        assert 'id="form-error"' in response.get_data(as_text=True)
    assert len(_ledger()) == before


def test_sms_asks_for_a_mobile_number_in_place_and_stores_it_unverified(client, demo, smtp):
    html = _open(client, smtp)
    events = _topic("events")
    key = f"{events.id}:sms"
    asked = save(client, html, {key: True})
    text = asked.get_data(as_text=True)
    assert asked.status_code == 422
    assert "Enter your mobile number to receive SMS." in text
    assert f'id="mobile_number-{events.id}-sms"' in text
    assert _state(events, "sms") is None
    wrong = save(client, text, {key: True}, mobile_number="12345")
    assert "Enter the number with its country code" in wrong.get_data(as_text=True)
    assert 'value="12345"' in wrong.get_data(as_text=True)
    done = save(client, text, {key: True}, mobile_number="+33 6 12 34 56 78")
    assert done.status_code == 200
    assert _state(events, "sms") == "granted"
    field = db.session.scalar(select(ProfileField).where(ProfileField.name == "mobile_number"))
    assert field.value == "+33612345678" and field.verified_at is None
    assert "to +33612345678 (not verified)" in done.get_data(as_text=True)


def test_post_asks_for_a_postal_address(client, demo, smtp):
    html = _open(client, smtp)
    catalogue = _topic("catalogue")
    key = f"{catalogue.id}:post"
    asked = save(client, html, {key: True}).get_data(as_text=True)
    assert "Enter your postal address to receive post." in asked
    address = {"postal_line1": "3 rue Cler", "postal_postcode": "75007", "postal_city": "Paris"}
    no_country = save(client, asked, {key: True}, **address)
    assert "Choose the country." in no_country.get_data(as_text=True)
    done = save(client, asked, {key: True}, postal_country="FR", **address)
    assert done.status_code == 200 and _state(catalogue, "post") == "granted"


def test_unsubscribe_from_a_brand_and_from_everything(client, demo, smtp):
    html = _open(client, smtp)
    subscribed(client, smtp, "centre@example.com", brand="vespera")
    confirm_page = client.get("/luxe/preferences/leave/camille").get_data(as_text=True)
    assert "Unsubscribe from all of Camille" in confirm_page
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/luxe/preferences/leave/camille", data={"csrf_token": token})
    held = {(c.brand.slug, c.state) for c in db.session.scalars(select(Consent))}
    assert held == {("camille", "withdrawn"), ("vespera", "granted")}
    done = client.post("/luxe/preferences/leave", data={"csrf_token": token})
    assert "You are unsubscribed" in done.get_data(as_text=True)
    assert {c.state for c in db.session.scalars(select(Consent))} == {"withdrawn"}
    # Not erasure: the person is still known, and can still sign in.
    assert sign_in(client, smtp, "centre@example.com").status_code == 302
