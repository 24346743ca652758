"""API clients in the console: created with the key shown once, revoked after a confirmation,
brand admins limited to their brands, webhook delivery logs read-only, every change audited."""

import re
from datetime import date

from sqlalchemy import select

from portal.core.console.models import AuditEntry
from portal.core.integrations import clients, webhooks
from portal.core.integrations.models.api import ApiClient
from portal.core.integrations.models.event import CONSENT_CHANGED
from portal.extensions import db
from tests.actions import confirm, confirmation_link, deliver, log_in, post, sign_up
from tests.factories import brand, brand_admin, make_admin

KEY = re.compile(r'value="(cp_[0-9a-f]+\.[A-Za-z0-9_\-]+)"')


def _feed(client, key):
    """A call about no person, open to a client without processing terms: the key works."""
    return client.get("/api/v1/webhooks", headers={"Authorization": f"Bearer {key}"})


def test_an_owner_creates_a_client_and_sees_its_key_once(client, demo):
    log_in(client, make_admin(demo, "owner", "boss@luxe.example"))
    form = client.get("/admin/api-clients/new").get_data(as_text=True)
    assert "Verified source" in form
    answer = post(
        client,
        "/admin/api-clients/new",
        {
            "name": "CRM",
            "scopes": ["consent:read", "events:read"],
            "brands": [str(brand("camille").id)],
            "verified_source": "1",
        },
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "shown only once" in page
    assert answer.headers["Cache-Control"] == "no-store"
    key = KEY.search(page).group(1)
    assert _feed(client, key).status_code == 200  # the key works at once
    listing = client.get("/admin/api-clients").get_data(as_text=True)
    assert "CRM" in listing and "consent:read, events:read" in listing and "Camille" in listing
    assert key not in listing and key.split(".")[1] not in listing
    [made] = db.session.scalars(select(ApiClient)).all()
    assert made.verified_source and made.brand_ids == [brand("camille").id]
    assert key not in client.get(f"/admin/api-clients/{made.id}").get_data(as_text=True)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "api_client.create"))
    assert entry.target == f"api_client:{made.id}" and entry.after["verified_source"] is True
    assert key.split(".")[1] not in str(entry.after) + entry.target


def test_a_bad_form_says_what_is_wrong_and_keeps_what_was_typed(client, demo):
    log_in(client, make_admin(demo, "owner", "boss@luxe.example"))
    answer = post(client, "/admin/api-clients/new", {"name": "Shop", "brands": "999999"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "Choose at least one scope." in page and "Choose only brands you manage." in page
    assert 'value="Shop"' in page and 'aria-describedby="f-scopes-error"' in page
    assert db.session.scalar(select(ApiClient)) is None
    assert (
        db.session.scalar(select(AuditEntry).where(AuditEntry.action.like("api_client%"))) is None
    )


def test_revoking_asks_first_then_the_key_stops_working(client, demo):
    made, key = clients.create("luxe", "CRM", ["events:read"])
    log_in(client, make_admin(demo, "owner", "boss@luxe.example"))
    question = client.get(f"/admin/api-clients/{made.id}/revoke").get_data(as_text=True)
    assert "Its key stops working within seconds" in question
    assert "Yes, revoke the client" in question
    assert _feed(client, key).status_code == 200  # looking at the question changes nothing
    done = post(client, f"/admin/api-clients/{made.id}/revoke", follow_redirects=True)
    assert "CRM is revoked: its key no longer works." in done.get_data(as_text=True)
    assert "Revoked on" in done.get_data(as_text=True)
    assert _feed(client, key).status_code == 401
    post(client, f"/admin/api-clients/{made.id}/revoke")  # twice: nothing more happens
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "api_client.revoke")
    ).all()
    assert [(e.before["revoked"], e.after["revoked"]) for e in entries] == [(False, True)]


def test_a_brand_admin_manages_only_clients_of_their_brands(client, demo):
    clients.create("luxe", "Everything", ["events:read"])
    clients.create("luxe", "Vespera shop", ["events:read"], ["vespera"])
    mine, _ = clients.create("luxe", "Camille shop", ["events:read"], ["camille"])
    log_in(client, brand_admin(demo, "camille"))
    listing = client.get("/admin/api-clients").get_data(as_text=True)
    assert "Camille shop" in listing
    assert "Everything" not in listing and "Vespera shop" not in listing
    form = client.get("/admin/api-clients/new").get_data(as_text=True)
    assert "Verified source" not in form and "Vespera" not in form
    refused = post(
        client,
        "/admin/api-clients/new",
        {"name": "Sneaky", "scopes": "consent:read", "verified_source": "1"},
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Choose at least one of your brands." in page
    assert "Only an owner may mark a client a verified source." in page
    vespera = post(
        client,
        "/admin/api-clients/new",
        {"name": "Sneaky", "scopes": "consent:read", "brands": str(brand("vespera").id)},
    )
    assert vespera.status_code == 422
    made = post(
        client,
        "/admin/api-clients/new",
        {"name": "Newsletter tool", "scopes": "consent:read", "brands": str(brand("camille").id)},
    )
    assert made.status_code == 200
    names = set(db.session.scalars(select(ApiClient.name)))
    assert "Sneaky" not in names and "Newsletter tool" in names
    assert client.get(f"/admin/api-clients/{mine.id}").status_code == 200


def test_the_webhook_delivery_log(app, client, demo, smtp):
    app.config["WEBHOOKS_ALLOW_INSECURE"] = True  # loopback, explicitly, as when testing
    terms = ("Reads consent events for marketing only.", date(2025, 1, 15))
    made, _ = clients.create("luxe", "CRM", ["events:read"], terms=terms)
    endpoint, secret = webhooks.register(made, "https://127.0.0.1:9/hook", [CONSENT_CHANGED])
    db.session.commit()
    sign_up(client, "ann@example.com")
    deliver()
    confirm(client, confirmation_link(smtp.to("ann@example.com")[-1]))
    webhooks.deliver_due()  # nobody listens there: a failed attempt, retried later
    log_in(client, make_admin(demo, "owner", "boss@luxe.example"))
    page = client.get(f"/admin/api-clients/{made.id}").get_data(as_text=True)
    assert "https://127.0.0.1:9/hook" in page and CONSENT_CHANGED in page
    assert secret not in page
    log = client.get(f"/admin/api-clients/{made.id}/webhooks/{endpoint.id}")
    html = log.get_data(as_text=True)
    assert log.status_code == 200
    assert CONSENT_CHANGED in html and "Queued" in html and "<td>1</td>" in html
    assert webhooks.UNREACHABLE in html  # the last error, generic: no port-scan oracle
    assert "ann@example.com" not in html
    other, _ = clients.create("luxe", "Other", ["events:read"])
    assert client.get(f"/admin/api-clients/{other.id}/webhooks/{endpoint.id}").status_code == 404


def test_an_owner_records_processing_terms_and_the_client_then_receives_data(client, demo):
    made, key = clients.create("luxe", "CRM", ["events:read"])
    feed = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/events", headers=feed).status_code == 403  # no terms, no data
    log_in(client, make_admin(demo, "owner", "boss@luxe.example"))
    listing = client.get("/admin/api-clients").get_data(as_text=True)
    assert "No: receives no personal data" in listing
    url = f"/admin/api-clients/{made.id}/terms"
    assert "No terms yet" in client.get(url).get_data(as_text=True)
    refused = post(client, url, {"text": "", "agreed_on": "2999-01-01"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Give the text of the terms" in page and "not in the future" in page
    done = post(
        client, url, {"text": "Marketing only; erased when asked.", "agreed_on": "2025-01-15"}
    )
    assert done.status_code == 302
    post(
        client,
        url,
        {"text": "Marketing and service; erased when asked.", "agreed_on": "2025-06-01"},
    )
    page = client.get(url).get_data(as_text=True)
    assert "Marketing only; erased when asked." in page and "Marketing and service" in page
    assert page.index("2025-06-01") < page.index("2025-01-15")  # newest first, the old one kept
    assert "Yes, terms version 2" in client.get("/admin/api-clients").get_data(as_text=True)
    assert client.get("/api/v1/events", headers=feed).status_code == 200
    audited = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "api_client.terms")
    ).all()
    assert [entry.after["terms_version"] for entry in audited] == [1, 2]


def test_only_an_owner_records_terms(client, demo):
    made, _ = clients.create("luxe", "Camille shop", ["events:read"], ["camille"])
    log_in(client, brand_admin(demo, "camille", email="camille@luxe.example"))
    assert "Processing terms" not in client.get("/admin/api-clients").get_data(as_text=True)
    url = f"/admin/api-clients/{made.id}/terms"
    assert client.get(url).status_code == 403
    answer = post(client, url, {"text": "x", "agreed_on": "2025-01-15"})
    assert answer.status_code == 403 and db.session.get(ApiClient, made.id).terms_version is None


def test_failed_deliveries_are_sent_again_from_a_time_in_the_readers_zone(client, demo):
    made, _ = clients.create("luxe", "CRM", ["events:read"])
    endpoint, _ = webhooks.register(made, "https://hooks.example.com/in", [CONSENT_CHANGED])
    admin = make_admin(demo, "owner", "boss@luxe.example")
    admin.time_zone = "Europe/Paris"
    db.session.commit()
    log_in(client, admin)
    page = f"/admin/api-clients/{made.id}/webhooks/{endpoint.id}"
    shown = client.get(page).get_data(as_text=True)
    assert "In your time zone, Europe/Paris." in shown and "(UTC)" not in shown
    answer = post(client, page + "/redeliver", {"since": "2026-01-15T10:00"})
    assert answer.status_code == 302
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "webhook.redeliver"))
    assert entry.after["since"] == "2026-01-15T09:00:00+00:00"  # 10:00 in Paris, in winter
    refused = post(client, page + "/redeliver", {"since": "soon"})
    assert refused.status_code == 422
    assert (
        "Send failed deliveries again from: Give the time to send failed deliveries again from."
        in refused.get_data(as_text=True)
    )
