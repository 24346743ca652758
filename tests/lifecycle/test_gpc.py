"""Global Privacy Control: Sec-GPC: 1 opts out of sharing topics, is recorded, never erases."""

import re

from sqlalchemy import select

from portal.core.consent.models import Consent, LedgerEntry
from portal.core.kernel.models.group import Topic
from portal.core.people import subjects
from portal.extensions import db
from tests.actions import (
    centre_form,
    confirm,
    confirmation_link,
    decide,
    deliver,
    save,
    sign_in,
    sign_up,
    signup_page,
    subscribed,
)

GPC = {"Sec-GPC": "1"}
TOPIC = re.compile(r'name="topics" value="(\d+)"')


def _camille_topics(client) -> list[int]:
    return [int(t) for t in TOPIC.findall(signup_page(client).get_data(as_text=True))]


def _offers() -> Topic:
    return db.session.scalar(select(Topic).where(Topic.key == "offers", Topic.brand_id == 1))


def test_the_portal_says_it_honours_gpc(client):
    answer = client.get("/.well-known/gpc.json")
    assert answer.status_code == 200
    assert answer.get_json() == {"gpc": True, "lastUpdate": "2026-11-23"}


def test_sign_up_with_gpc_leaves_sharing_topics_out_and_records_the_signal(client, demo, smtp):
    news, _events, offers = _camille_topics(client)[:3]
    assert offers == _offers().id
    sign_up(client, "private@example.com", topics=[news, offers], headers=GPC)
    decide()
    requested = db.session.scalars(select(LedgerEntry).where(LedgerEntry.action == "requested"))
    assert [(row.topic_id, row.evidence) for row in requested] == [(news, {"gpc": True})]


def test_only_sharing_topics_with_gpc_get_a_clear_error(client, demo, smtp):
    offers = _camille_topics(client)[2]
    answer = sign_up(client, "private@example.com", topics=[offers], headers=GPC)
    assert answer.status_code == 422
    assert "Global Privacy Control" in answer.get_data(as_text=True)
    assert subjects.find(demo.id, "private@example.com") is None


def test_gpc_must_be_exactly_1(client, demo, smtp):
    news, _events, offers = _camille_topics(client)[:3]
    sign_up(client, "vague@example.com", topics=[news, offers], headers={"Sec-GPC": "true"})
    decide()
    requested = db.session.scalars(select(LedgerEntry).where(LedgerEntry.action == "requested"))
    assert [row.evidence for row in requested] == [None, None]


def test_gpc_in_the_centre_withdraws_sharing_topics_and_erases_nothing(client, demo, smtp):
    news, _events, offers = _camille_topics(client)[:3]
    subscribed(client, smtp, "shared@example.com", topics=[news, offers])
    sign_in(client, smtp, "shared@example.com")
    html = client.get("/luxe/preferences/").get_data(as_text=True)
    assert centre_form(html)[f"{offers}:email"] is True

    journal = db.session.scalar(select(Topic).where(Topic.key == "journal", Topic.brand_id == 1))
    client.environ_base["HTTP_SEC_GPC"] = "1"
    answer = save(client, html, {f"{journal.id}:email": True})
    assert answer.status_code == 200
    states = {
        row.topic_id: row.state
        for row in db.session.scalars(select(Consent).where(Consent.channel == "email"))
    }
    assert states == {news: "granted", offers: "withdrawn", journal.id: "granted"}
    last = db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc()).limit(2))
    assert {(row.action, row.topic_id, row.evidence["gpc"]) for row in last} == {
        ("withdrawn", offers, True),
        ("granted", journal.id, True),
    }
    assert subjects.find(demo.id, "shared@example.com") is not None  # never erasure

    html = client.get("/luxe/preferences/").get_data(as_text=True)
    refused = save(client, html, {f"{offers}:email": True})
    assert refused.status_code == 422
    assert "Global Privacy Control" in refused.get_data(as_text=True)


def test_a_confirmation_with_gpc_is_recorded_and_does_not_grant_sharing(client, demo, smtp):
    news, _events, offers = _camille_topics(client)[:3]
    sign_up(client, "c@example.com", topics=[news, offers])
    deliver()
    client.environ_base["HTTP_SEC_GPC"] = "1"
    confirm(client, confirmation_link(smtp.to("c@example.com")[0]))
    rows = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.action != "requested").order_by(LedgerEntry.id)
    )
    assert [(row.action, row.topic_id, row.evidence) for row in rows] == [
        ("confirmed", news, {"gpc": True}),
        ("confirmed", offers, {"gpc": True}),
        ("withdrawn", offers, {"gpc": True}),
    ]
    assert db.session.scalar(select(Consent.state).where(Consent.topic_id == offers)) == (
        "withdrawn"
    )
