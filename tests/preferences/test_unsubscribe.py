"""Topic mails through a real send, and their one-click unsubscribe (RFC 8058, RFC 2369)."""

import re
from urllib.parse import urlsplit

from sqlalchemy import select

from portal.core.consent.models import Consent, LedgerEntry
from portal.extensions import db
from tests.actions import deliver, manage_link, one_click_url, send_topic, subscribed
from tests.smtp import html_of, text_of


def _send_news(runner, tmp_path, brand="camille", topic="news"):
    body = "Our winter collection is here.\n\nCome and see it in Paris."
    return send_topic(runner, tmp_path, "Winter collection", body, brand, topic)


def test_a_topic_mail_carries_the_unsubscribe_headers_and_links(
    runner, client, demo, smtp, tmp_path
):
    subscribed(client, smtp, "reader@example.com")
    subscribed(client, smtp, "other@example.com", brand="vespera")  # news of another brand
    result = _send_news(runner, tmp_path)
    assert result.exit_code == 0, result.output
    deliver()
    [message] = [m for m in smtp.messages if m["Subject"] == "Winter collection"]
    assert message["To"] == "reader@example.com"
    assert "news@camille.example" in message["From"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = re.findall(r"<([^>]+)>", message["List-Unsubscribe"])
    assert https.startswith("http://portal.test/luxe/unsubscribe/")
    local = mailto.removeprefix("mailto:").split("@")[0]
    assert local.startswith("unsubscribe+") and len(local) <= 64  # RFC 5321 local part
    assert mailto.endswith("@portal.test")
    assert message["List-Id"].endswith("<news.camille.luxe.portal.test>")
    text = text_of(message)
    assert "Come and see it in Paris." in text and https in text
    assert "12 rue de la Paix" in text and "12 rue de la Paix" in html_of(message)
    assert manage_link(message)


def test_one_click_post_unsubscribes_at_once_and_repeating_is_harmless(
    runner, client, demo, smtp, tmp_path
):
    subscribed(client, smtp, "click@example.com")
    _send_news(runner, tmp_path)
    deliver()
    url = urlsplit(one_click_url(smtp.to("click@example.com")[0])).path
    mail_provider = client.application.test_client()
    looked = mail_provider.get(url)  # a scanner: nothing changes
    assert looked.status_code == 200 and "Unsubscribe" in looked.get_data(as_text=True)
    states = lambda: {c.topic.key: c.state for c in db.session.scalars(select(Consent))}  # noqa: E731
    assert states()["news"] == "granted"
    done = mail_provider.post(url, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "Set-Cookie" not in done.headers and "Location" not in done.headers
    assert states()["news"] == "withdrawn" and states()["events"] == "granted"
    count = db.session.query(LedgerEntry).count()
    assert mail_provider.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert db.session.query(LedgerEntry).count() == count


def test_bad_unsubscribe_tokens_get_a_clear_answer(app, client, demo, smtp):
    from portal import tokens

    subscribed(client, smtp, "bad@example.com")
    assert (
        client.post(
            "/luxe/unsubscribe/nonsense", data={"List-Unsubscribe": "One-Click"}
        ).status_code
        == 400
    )
    consent = db.session.scalars(select(Consent)).first()
    wrong_brand = tokens.issue(
        "unsubscribe", [consent.subject_id, consent.brand_id + 1, consent.topic_id]
    )
    answer = client.post(f"/luxe/unsubscribe/{wrong_brand}", data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 404
    assert "does not match any subscription" in answer.get_data(as_text=True)
    other_subject = tokens.issue(
        "unsubscribe", [consent.subject_id + 99, consent.brand_id, consent.topic_id]
    )
    assert client.get(f"/luxe/unsubscribe/{other_subject}").status_code == 404
    assert {c.state for c in db.session.scalars(select(Consent))} == {"granted"}


def test_send_topic_refuses_an_unknown_topic(runner, demo, tmp_path):
    result = _send_news(runner, tmp_path, brand="aurele", topic="catalogue")
    assert result.exit_code != 0 and "no topic 'catalogue'" in result.output
