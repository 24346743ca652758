"""Erasure that every recipient confirms: asked in the feed and by webhook, answered through
the API, re-sent when late, shown to owners, and told to the person without an account."""

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.core.integrations import webhooks
from portal.core.integrations.models.recipients import ErasureRequest
from portal.core.kernel import clock
from portal.core.people.models.erasure import ErasureRecord
from portal.extensions import db
from tests.actions import ask_erasure, deliver, log_in, signed_in
from tests.api.test_webhooks import Receiver
from tests.conftest import csrf_token
from tests.factories import make_admin
from tests.smtp import text_of

STATUS_LINK = re.compile(r"https?://\S+/my-data/erasure-status/\S+")


@pytest.fixture
def hooks(app):
    app.config["WEBHOOKS_ALLOW_INSECURE"] = True
    server = Receiver()
    server.start()
    yield server
    server.stop()


def _requests(api) -> list[dict]:
    return [e for e in api.get("/events").json["events"] if e["type"] == "erasure.requested"]


def _ack(api, request_id, answer="done", reference=None):
    body = {"answer": answer} | ({"reference": reference} if reference else {})
    return api.post(f"/erasures/{request_id}/acknowledgement", json=body)


def _erase(client, smtp, email="leave@example.com") -> str:
    """The person erases themself; returns the erased page's HTML."""
    signed_in(client, smtp, email)
    link = ask_erasure(client, smtp, email)
    page = client.get(link).get_data(as_text=True)
    done = client.post(link, data={"csrf_token": csrf_token(page)})
    assert done.status_code == 200
    return done.get_data(as_text=True)


def test_three_recipients_one_at_once_one_after_a_resend_one_never(
    app, client, demo, make_api, smtp, hooks, runner
):
    crm = make_api(name="CRM")
    calls = make_api(name="Call centre", brands=["camille"])
    esp = make_api(name="Email platform")
    vespera = make_api(name="Vespera shop", brands=["vespera"])  # could not read the person
    bare = make_api(name="Survey tool", terms=False)  # no terms: receives nothing
    answer = esp.post("/webhooks", json={"url": hooks.url, "events": ["consent.changed"]})
    hooks.secret = answer.json["secret"]

    html = _erase(client, smtp)
    for name in ("CRM", "Call centre", "Email platform"):
        assert name in html  # the page says which systems were asked
    assert "Vespera shop" not in html and "Survey tool" not in html
    assert "We keep the record of this erasure" in html
    deliver()
    farewell = text_of(smtp.to("leave@example.com")[-1])
    assert "CRM" in farewell and "Call centre" in farewell and "Email platform" in farewell
    assert "the record of this erasure" in farewell
    status_path = STATUS_LINK.search(farewell).group(0).split("//", 1)[1].split("/", 1)[1]

    # Each recipient hears of its own request only: one event in its feed, nothing personal.
    record = db.session.scalar(select(ErasureRecord))
    asked = {name: _requests(api) for name, api in [("crm", crm), ("calls", calls), ("esp", esp)]}
    assert all(len(events) == 1 for events in asked.values())
    ids = {name: events[0]["data"]["erasure_request_id"] for name, events in asked.items()}
    assert len(set(ids.values())) == 3
    data = asked["crm"][0]["data"]
    assert set(data) == {
        "erasure_request_id",
        "erasure_id",
        "subject_id",
        "requested_at",
        "attempt",
    }
    assert data["erasure_id"] == record.id and data["attempt"] == 1
    assert "leave@example.com" not in json.dumps(asked)
    assert _requests(vespera) == []
    assert bare.get("/events").status_code == 403

    # The email platform's webhook got its request signed, though it chose other event types.
    webhooks.deliver_all()
    sent = [r for r in hooks.received if r[1]["Portal-Event-Type"] == "erasure.requested"]
    ((status, headers, body),) = sent
    assert status == 200  # the receiver verified the signature
    assert json.loads(body)["data"]["erasure_request_id"] == ids["esp"]
    assert b"leave@example.com" not in body

    # The CRM answers at once; the same answer again is the same answer.
    first = _ack(crm, ids["crm"], "done", "CRM-4711")
    assert first.status_code == 200 and first.json["answer"] == "done"
    assert first.json["reference"] == "CRM-4711" and first.json["answered_at"]
    again = _ack(crm, ids["crm"], "done", "CRM-4711")
    assert again.status_code == 200 and again.json == first.json
    changed = _ack(crm, ids["crm"], "not_held")
    assert changed.status_code == 409
    assert changed.json["type"].endswith("/erasure-already-answered")
    assert changed.headers["Content-Type"] == "application/problem+json"

    # Three days pass: the two silent ones are asked again, once, by the cron command.
    clock.freeze(clock.now() + timedelta(hours=73))
    result = runner.invoke(args=["erasures", "resend"])
    assert result.exit_code == 0 and "sent again 2" in result.output
    assert "sent again 0" in runner.invoke(args=["erasures", "resend"]).output  # not twice
    assert [e["data"]["attempt"] for e in _requests(calls)] == [1, 2]
    assert [e["data"]["attempt"] for e in _requests(esp)] == [1, 2]
    assert len(_requests(crm)) == 1  # answered: not asked again
    assert (
        calls.post(f"/erasures/{ids['calls']}/acknowledgement", json={"answer": "not_held"}).json[
            "answer"
        ]
        == "not_held"
    )

    # The disposal record, per recipient, without personal data.
    rows = {
        r.client_name: r
        for r in db.session.scalars(select(ErasureRequest).order_by(ErasureRequest.client_name))
    }
    assert {n: (r.answer, r.sends) for n, r in rows.items()} == {
        "CRM": ("done", 1),
        "Call centre": ("not_held", 2),
        "Email platform": (None, 2),
    }

    owner = make_admin(demo, "owner")
    log_in(client, owner)
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert re.search(r'Erasure requests overdue</span><span class="value">1<', dashboard)
    assert "See the overdue requests" in dashboard
    overdue = client.get("/admin/erasures?overdue=1").get_data(as_text=True)
    assert "Email platform" in overdue and "Overdue" in overdue
    assert "CRM" not in overdue and "Call centre" not in overdue
    page = client.get(f"/admin/erasures/{record.id}").get_data(as_text=True)
    assert "CRM-4711" in page and "Held no copy" in page and "sent 2 times" in page
    assert "leave@example.com" not in page
    lines = client.get("/admin/erasures.csv").get_data(as_text=True).splitlines()
    assert lines[0].startswith("erasure_id,recipient,terms_version,requested_at")
    by_name = {line.split(",")[1]: line.split(",") for line in lines[1:]}
    assert by_name["CRM"][7:] == ["done", "CRM-4711", "done"]
    assert by_name["Call centre"][7:] == ["not_held", "", "not_held"]
    assert by_name["Email platform"][4] == "2" and by_name["Email platform"][-1] == "overdue"
    overdue_csv = client.get("/admin/erasures.csv?overdue=1").get_data(as_text=True)
    assert len(overdue_csv.splitlines()) == 2

    # The person's status link, without an account: the status and nothing else.
    client.get("/admin/logout")
    shown = client.get("/" + status_path)
    text = shown.get_data(as_text=True)
    assert shown.status_code == 200
    assert "Erased" in text and "Held no copy" in text and "No answer yet: asked again" in text
    assert "leave@example.com" not in text and "CRM-4711" not in text


def test_a_recipient_cannot_answer_for_another_group_or_brand(client, demo, make_api, smtp):
    from tests.core.test_isolation import make_group

    crm = make_api(name="CRM")
    camille = make_api(name="Camille boutiques", brands=["camille"])
    vespera = make_api(name="Vespera shop", brands=["vespera"])
    make_group("other")
    theirs = make_api(name="Their CRM", group="other")
    _erase(client, smtp)
    request_id = _requests(crm)[0]["data"]["erasure_request_id"]
    for stranger in (camille, vespera, theirs):
        refused = _ack(stranger, request_id)
        assert refused.status_code == 404
        assert refused.json["detail"] == "Nothing with this identifier is open to this client."
    assert _ack(crm, "not-a-request").status_code == 404
    assert (
        db.session.scalar(select(ErasureRequest.answer).where(ErasureRequest.id == request_id))
        is None
    )
    bad = crm.post(f"/erasures/{request_id}/acknowledgement", json={"answer": "maybe"})
    assert bad.status_code == 422
    assert _ack(crm, request_id).json["answer"] == "done"


def test_a_client_without_terms_receives_no_personal_data(make_api, smtp):
    bare = make_api(name="Survey tool", terms=False)
    for answer in (
        bare.post("/consents/lookup", json={"email": "ada@example.org"}),
        bare.get("/subjects/1/consents"),
        bare.get("/events"),
        bare.post("/webhooks", json={"url": "https://h.example/x", "events": ["consent.changed"]}),
    ):
        assert answer.status_code == 403
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert answer.json["type"].endswith("/terms-required")
        assert "no accepted processing terms" in answer.json["detail"]


def test_the_status_link_only_shows_whatever_the_method(app, client, demo, make_api, smtp):
    make_api(name="CRM")
    _erase(client, smtp)
    deliver()
    link = STATUS_LINK.search(text_of(smtp.to("leave@example.com")[-1])).group(0)
    path = "/" + link.split("//", 1)[1].split("/", 1)[1]
    before = db.session.scalar(select(ErasureRequest.sends))
    assert client.get(path).status_code == 200 and client.head(path).status_code == 200
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert client.open(path, method=method).status_code == 405
    assert db.session.scalar(select(ErasureRequest.sends)) == before
    assert client.get(path[:-3] + "abc").status_code == 400
    assert client.get(path.replace("/luxe/", "/other/")).status_code == 404
    clock.freeze(clock.now() + timedelta(seconds=app.config["ERASURE_STATUS_MAX_AGE"] + 60))
    assert client.get(path).status_code == 410


def test_the_readme_shows_the_webhook_body_and_the_acknowledgement_as_they_are(
    client, demo, make_api, smtp
):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Recipients and erasure requests", 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    (_, event), (_, call), (_, answer) = blocks[0], blocks[1], blocks[2]
    crm = make_api(name="CRM")
    _erase(client, smtp)
    (sent,) = _requests(crm)
    documented = json.loads(event)
    assert documented["type"] == sent["type"] and set(documented) == set(sent)
    assert set(documented["data"]) == set(sent["data"])
    request_id = documented["data"]["erasure_request_id"]
    assert f"/api/v1/erasures/{request_id}/acknowledgement" in call
    body = json.loads(re.search(r"-d '(.*?)'", call).group(1))
    real = crm.post(f"/erasures/{sent['data']['erasure_request_id']}/acknowledgement", json=body)
    assert real.status_code == 200 and set(real.json) == set(json.loads(answer))
    assert real.json["reference"] == json.loads(answer)["reference"]


def test_the_lifecycle_cron_line_resends_too_and_a_revoked_client_is_not_asked_again(
    client, demo, make_api, smtp, runner
):
    from portal.core.integrations import clients as api_clients

    crm = make_api(name="CRM")
    gone = make_api(name="Old ESP")
    _erase(client, smtp)
    api_clients.revoke(gone.id)
    clock.freeze(clock.now() + timedelta(hours=73))
    result = runner.invoke(args=["lifecycle", "run"])
    assert result.exit_code == 0 and "sent again 1" in result.output
    assert [e["data"]["attempt"] for e in _requests(crm)] == [1, 2]
    sends = dict(db.session.execute(select(ErasureRequest.client_name, ErasureRequest.sends)).all())
    assert sends == {"CRM": 2, "Old ESP": 1}  # revoked: not sent, still overdue in the record
