"""Every console URL, with every role, with ids of another group and of brands not granted:
nothing leaks, nothing changes. The URLs come from the app's own map, so a new page is walked
as soon as it exists."""

import io
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from portal.core.consent.models import Consent
from portal.core.console.models import AdminAccount
from portal.core.integrations import clients, webhooks
from portal.core.integrations.models.api import ApiClient
from portal.core.integrations.models.event import CONSENT_CHANGED
from portal.core.kernel import jobs
from portal.core.kernel.models.group import Brand, Topic
from portal.core.people.models.erasure import ErasureRecord
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.actions import log_in, sign_up
from tests.core.test_isolation import make_group
from tests.factories import brand, brand_admin, make_admin

# endpoint -> roles that may use it (with ids of their own group and brands)
ALLOWED = {
    "dashboard": {"owner", "brand_admin", "viewer"},
    "brand_figures": {"owner", "brand_admin", "viewer"},
    "figures_csv": {"owner", "brand_admin", "viewer"},
    "brand_figures_csv": {"owner", "brand_admin", "viewer"},
    "brand_list": {"owner", "brand_admin", "viewer"},
    "brand_new": {"owner"},
    "brand_edit": {"owner", "brand_admin"},
    "brand_archive": {"owner", "brand_admin"},
    "topic_list": {"owner", "brand_admin"},
    "topic_new": {"owner", "brand_admin"},
    "topic_edit": {"owner", "brand_admin"},
    "text_new": {"owner", "brand_admin"},
    "policy": {"owner", "brand_admin"},
    "support_lookup": {"owner", "brand_admin"},
    "support_withdraw": {"owner", "brand_admin"},
    "support_erase": {"owner", "brand_admin"},
    "api_client_list": {"owner", "brand_admin"},
    "api_client_new": {"owner", "brand_admin"},
    "api_client_show": {"owner", "brand_admin"},
    "api_client_revoke": {"owner", "brand_admin"},
    "api_client_rotate": {"owner", "brand_admin"},
    "api_client_retire": {"owner", "brand_admin"},
    "webhook_deliveries": {"owner", "brand_admin"},
    "webhook_ping": {"owner", "brand_admin"},
    "webhook_redeliver": {"owner", "brand_admin"},
    "api_client_terms": {"owner"},
    "erasures": {"owner"},
    "erasures_csv": {"owner"},
    "erasure_record": {"owner"},
    "import_subscribers": {"owner", "brand_admin"},
    "admin_list": {"owner"},
    "admin_edit": {"owner"},
    "admin_resend": {"owner"},
    "admin_revoke": {"owner"},
    "admin_reset_two_factor": {"owner"},
    "group_settings": {"owner"},
    "rules": {"owner", "viewer"},
    "rules_update": {"owner"},
    "rules_preview": {"owner", "viewer"},
    "audit_log": {"owner"},
    "audit_csv": {"owner"},
    "access_log": {"owner"},
    "access_csv": {"owner"},
    "import_template": {"owner", "brand_admin"},
    "job_list": {"owner", "brand_admin"},
    "job": {"owner", "brand_admin"},
    "mail_health": {"owner"},
    "topic_mail_new": {"owner", "brand_admin"},
    "test_mail": {"owner"},
}
SELF = {"login", "logout", "enrol", "account", "accept_invite"}  # every signed-in admin
SELF |= {"change_password", "two_factor_off", "recovery_codes", "forgot_password"}
SELF |= {"reset_password", "time_zone"}
ROLES = ("owner", "brand_admin", "viewer")
IDS = {"brand_id", "topic_id", "admin_id", "client_id", "endpoint_id", "erasure_id", "job_id"}
SECRET_MARKERS = ("OTHER", "other solo", "other news", "stranger@other.example", "x@other.example")


def test_every_console_endpoint_is_classified(app):
    endpoints = {
        r.endpoint.split(".", 1)[1]
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith("admin.")
    }
    assert endpoints == set(ALLOWED) | SELF


@pytest.fixture
def world(app, client, demo, smtp):
    """The demo group with one admin per role, and another group with its own everything."""
    other = make_group("other", brand_slug="solo")
    sign_up(client, "stranger@other.example", group="other", brand="solo", topics=None)
    sign_up(client, "someone@luxe.example", brand="vespera")
    other_brand = db.session.scalar(select(Brand).where(Brand.group_id == other.id))
    stranger_admin = make_admin(other, "owner", "boss@other.example")
    accounts = {
        "owner": make_admin(demo, "owner", "owner@luxe.example"),
        "brand_admin": brand_admin(demo, "camille", email="camille@luxe.example"),
        "viewer": make_admin(demo, "viewer", "viewer@luxe.example"),
    }
    vespera = brand("vespera")
    hooks = {}
    for slug, group, brands in (
        ("foreign", "other", None),
        ("ungranted", "luxe", ["vespera"]),
        ("own", "luxe", ["camille"]),
    ):
        api_client, _ = clients.create(group, f"{slug} client", ["events:read"], brands)
        endpoint, _ = webhooks.register(api_client, "https://hooks.example/", [CONSENT_CHANGED])
        db.session.commit()
        hooks[slug] = {"client_id": api_client.id, "endpoint_id": endpoint.id}
        owner_brand = db.session.scalar(
            select(Brand).where(
                Brand.slug == {"foreign": "solo", "ungranted": "vespera"}.get(slug, "camille")
            )
        )
        job = jobs.start("policy.ask_again", owner_brand.group_id, "t", 0, brand_id=owner_brand.id)
        db.session.commit()
        hooks[slug]["job_id"] = job.id
    # A disposal record of the other group (nothing personal in it, as every such record).
    foreign_erasure, own_erasure = str(uuid.uuid4()), str(uuid.uuid4())
    for erasure_id, group_id in ((foreign_erasure, other.id), (own_erasure, demo.id)):
        db.session.add(
            ErasureRecord(
                id=erasure_id, group_id=group_id, subject_ref=0, requested_by="subject", counts={}
            )
        )
    db.session.commit()
    return {
        "accounts": accounts,
        "foreign": {
            "erasure_id": foreign_erasure,
            "brand_id": other_brand.id,
            "topic_id": other_brand.topics[0].id,
            "admin_id": stranger_admin.id,
            "consent": db.session.scalar(
                select(Consent.id).where(Consent.brand_id == other_brand.id)
            ),
            "subject": db.session.scalar(select(Subject.id).where(Subject.group_id == other.id)),
            **hooks["foreign"],
        },
        "ungranted": {
            "brand_id": vespera.id,
            "topic_id": vespera.topics[0].id,
            "admin_id": accounts["owner"].id,
            "consent": db.session.scalar(select(Consent.id).where(Consent.brand_id == vespera.id)),
            "subject": db.session.scalar(
                select(Consent.subject_id).where(Consent.brand_id == vespera.id)
            ),
            **hooks["ungranted"],
        },
        "own": {
            "erasure_id": own_erasure,
            "brand_id": brand("camille").id,
            "topic_id": brand("camille").topics[0].id,
            "admin_id": accounts["viewer"].id,
            **hooks["own"],
        },
    }


def _urls(app, ids):
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        values = {name: ids.get(name, "not-a-token") for name in rule.arguments}
        with app.test_request_context():
            from flask import url_for

            endpoint = rule.endpoint.split(".", 1)[1]
            yield endpoint, url_for(rule.endpoint, **values), rule.methods, rule.arguments


def _hostile_form(ids):
    """What a request that slipped through would need to change something."""
    return {
        "name": "Hacked",
        "slug": "hacked",
        "colour": "#123456",
        "sender_name": "Hacked",
        "sender_address": "hacked@example.com",
        "privacy_policy_url": "https://hacked.example/",
        "policy_version": "hacked",
        "text_en": "x",
        "text_fr": "x",
        "text_de": "x",
        "key": "hacked",
        "name_en": "x",
        "name_fr": "x",
        "name_de": "x",
        "channels": "email",
        "role": "owner",
        "brands": str(ids["brand_id"]),
        "archived": "1",
        "disabled": "1",
        "consent": str(ids["consent"]),
        "subject": str(ids["subject"]),
        "confirm": "1",
        "scopes": "consent:write",
        "text": "Hacked terms",
        "agreed_on": "2025-01-01",
        "verified_source": "1",
        "requested_by": "phone",
        "reason": "testing access",
        "email": "Stranger@Other.example",
        "brand": str(ids["brand_id"]),
        "mode": "run",
        "file": (
            io.BytesIO(
                b"email,topic,channel,consented_at\nz@z.example,news,email,2024-01-01T00:00:00Z\n"
            ),
            "x.csv",
        ),
    }


def _snapshot():
    # Every table's count in one query: a query per table, after each of the hundreds of
    # requests, was most of this test's time on PostgreSQL.
    tables = db.metadata.sorted_tables
    counts = db.session.execute(
        select(*(select(func.count()).select_from(t).scalar_subquery() for t in tables))
    ).one()
    state = {table.name: count for table, count in zip(tables, counts, strict=True)}
    state["brands"] = sorted(
        (b.id, b.slug, b.name, b.policy_version, b.archived_at is None, b.colour)
        for b in db.session.scalars(select(Brand))
    )
    state["topics"] = sorted((t.id, t.key, str(t.names)) for t in db.session.scalars(select(Topic)))
    state["admins"] = sorted(
        (a.id, a.role, a.disabled_at is None, tuple(b.id for b in a.brands))
        for a in db.session.scalars(select(AdminAccount).options(selectinload(AdminAccount.brands)))
    )
    state["consents"] = sorted((c.id, c.state) for c in db.session.scalars(select(Consent)))
    state["api_clients"] = sorted(
        (c.id, c.name, c.revoked_at is None, c.verified_source, c.terms_version)
        for c in db.session.scalars(select(ApiClient))
    )
    db.session.expire_all()
    return state


@pytest.mark.parametrize("role", ROLES)
def test_nothing_of_another_group_or_an_ungranted_brand(app, client, world, role):
    app.config["WTF_CSRF_ENABLED"] = False  # so that only the permission check can refuse
    log_in(client, world["accounts"][role])
    before = _snapshot()
    checked = 0
    for kind in ("foreign", "ungranted"):
        ids = world[kind]
        for endpoint, url, methods, arguments in _urls(app, ids):
            if endpoint in SELF:
                continue
            has_ids = bool(arguments & IDS)
            must_refuse = (
                role not in ALLOWED[endpoint]
                or (kind == "foreign" and has_ids)
                or (kind == "ungranted" and role == "brand_admin" and has_ids)
            )
            for method in ("GET", "POST"):
                if method not in methods:
                    continue
                if method == "GET":
                    answer = client.get(url)
                else:
                    answer = client.post(
                        url, data=_hostile_form(ids), content_type="multipart/form-data"
                    )
                page = answer.get_data(as_text=True)
                for marker in SECRET_MARKERS:
                    assert marker not in page, (role, kind, method, url, marker)
                if must_refuse:
                    assert answer.status_code in (403, 404), (
                        role,
                        kind,
                        method,
                        url,
                        answer.status_code,
                    )
                    checked += 1
                    assert _snapshot() == before, (role, kind, method, url)
                else:  # allowed pages without ids (e.g. a lookup) may record what they did
                    before = _snapshot()
    assert checked > 10


def test_foreign_consent_and_brand_through_allowed_forms(app, client, world):
    """An owner's own pages refuse ids of another group passed in the form."""
    app.config["WTF_CSRF_ENABLED"] = False
    log_in(client, world["accounts"]["owner"])
    before = _snapshot()
    foreign = world["foreign"]
    assert (
        client.post(
            "/admin/support/withdraw",
            data={
                "consent": foreign["consent"],
                "requested_by": "phone",
                "reason": "testing access",
            },
        ).status_code
        == 404
    )
    erase = {"subject": foreign["subject"], "requested_by": "phone", "reason": "testing access"}
    assert client.post("/admin/support/erase", data=erase).status_code == 404
    assert client.post("/admin/support/erase", data={**erase, "confirm": "1"}).status_code == 404
    answer = client.post(
        "/admin/api-clients/new",
        data={"name": "x", "scopes": "consent:read", "brands": foreign["brand_id"]},
    )
    assert answer.status_code == 422
    answer = client.post(
        "/admin/import", data=_hostile_form(foreign), content_type="multipart/form-data"
    )
    assert answer.status_code == 404
    answer = client.post(
        "/admin/admins",
        data={"email": "n@luxe.example", "role": "brand_admin", "brands": foreign["brand_id"]},
    )
    assert answer.status_code == 422
    assert _snapshot() == before


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_its_own_pages(app, client, world, role):
    log_in(client, world["accounts"][role])
    for endpoint, url, methods, _ in _urls(app, world["own"]):
        if "GET" in methods and role in ALLOWED.get(endpoint, ()):
            assert client.get(url).status_code == 200, (role, url)


def test_a_viewer_sees_no_personal_data(app, client, world):
    viewer = world["accounts"]["viewer"]
    log_in(client, viewer)
    for endpoint, url, methods, _ in _urls(app, world["own"]):
        if "GET" in methods and endpoint in ALLOWED and "viewer" in ALLOWED[endpoint]:
            # The menu names the viewer themself; no one else's address may show.
            page = client.get(url).get_data(as_text=True).replace(viewer.email, "")
            assert "someone@luxe.example" not in page and "@luxe.example" not in page, url
