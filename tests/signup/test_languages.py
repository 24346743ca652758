"""English, French and German: explicit choice first, then the browser's languages."""

from tests.actions import deliver, sign_up
from tests.smtp import text_of


def test_accept_language_picks_german(client, demo):
    page = client.get("/luxe/join/camille", headers={"Accept-Language": "de-DE,de;q=0.9"})
    html = page.get_data(as_text=True)
    assert '<html lang="de">' in html
    assert "Neuigkeiten" in html  # the topic, in German too


def test_explicit_choice_wins_and_is_remembered(client, demo):
    html = client.get("/luxe/join/camille?lang=fr", headers={"Accept-Language": "de"}).get_data(
        as_text=True
    )
    assert '<html lang="fr">' in html and "Actualités" in html
    again = client.get("/luxe/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="fr">' in again


def test_unknown_language_falls_back_to_english(client, demo):
    html = client.get("/luxe/join/camille?lang=xx", headers={"Accept-Language": "ja"}).get_data(
        as_text=True
    )
    assert '<html lang="en">' in html


def test_mail_is_in_the_language_of_the_sign_up(client, demo, smtp):
    client.get("/luxe/join/camille?lang=de")
    sign_up(client, "hans@example.com")
    deliver()
    [mail] = smtp.messages
    assert mail["Subject"] != "Please confirm your subscription to Camille"
    assert "Camille" in mail["Subject"]
    assert "Neuigkeiten" in text_of(mail)


def test_htmx_request_gets_only_the_form_region(client, demo):
    answer = sign_up(client, "", headers={"HX-Request": "true"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert html.lstrip().startswith('<section id="signup"')
    assert "<html" not in html and "Enter your email address." in html
