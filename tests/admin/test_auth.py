"""Signing in to the console: passwords, two-factor codes, idle time-out, limits, invitations."""

from datetime import timedelta

import pyotp
from sqlalchemy import select

from portal.core.console.models import AdminAccount, AuditEntry
from portal.core.kernel import clock
from portal.extensions import db
from tests.actions import code_for, create_owner, deliver, form_page, log_in, post
from tests.conftest import csrf_token
from tests.factories import PASSWORD, make_admin
from tests.smtp import text_of

GENERIC = "These details do not open an account"


def _try(client, email, password, code=""):
    page = form_page(client, "/admin/login")
    return client.post(
        "/admin/login",
        data={"csrf_token": csrf_token(page), "email": email, "password": password, "code": code},
    )


def test_console_pages_ask_for_a_login(client, demo):
    answer = client.get("/admin/brands")
    assert answer.status_code == 302
    assert "/admin/login" in answer.headers["Location"]


def test_every_wrong_part_gets_the_same_answer(client, demo):
    owner = make_admin(demo, "owner", "boss@luxe.example")
    answers = [
        _try(client, "nobody@luxe.example", PASSWORD, "123456"),
        _try(client, "boss@luxe.example", "wrong password!!", code_for(owner)),
        _try(client, "boss@luxe.example", PASSWORD, "000000"),
        _try(client, "boss@luxe.example", PASSWORD, ""),
    ]
    for answer in answers:
        assert answer.status_code == 401
        page = answer.get_data(as_text=True)
        assert GENERIC in page
        assert 'value="' in page  # the address typed is kept
    assert client.get("/admin/").status_code == 302


def test_an_owner_signs_in_with_password_and_code(client, demo):
    owner = make_admin(demo, "owner", "boss@luxe.example")
    log_in(client, owner)
    page = client.get("/admin/").get_data(as_text=True)
    assert "Dashboard" in page
    assert "Audit log" in page


def test_a_code_works_only_once(client, demo):
    owner = make_admin(demo, "owner", "boss@luxe.example")
    code = code_for(owner)
    assert _try(client, owner.email, PASSWORD, code).status_code == 302
    other = client.application.test_client()
    assert _try(other, owner.email, PASSWORD, code).status_code == 401


def test_a_new_owner_must_set_up_two_factor_codes_first(client, runner, demo):
    create_owner(runner, "new@luxe.example", "a long enough password")
    answer = _try(client, "new@luxe.example", "a long enough password")
    assert answer.headers["Location"].startswith("/admin/enrol")
    assert client.get("/admin/").status_code == 302  # not signed in yet
    page = form_page(client, "/admin/enrol")
    assert "<svg" in page and "QR code for your app" in page
    account = db.session.scalar(select(AdminAccount))
    secret = account.totp_secret
    assert secret in page
    wrong = client.post("/admin/enrol", data={"csrf_token": csrf_token(page), "code": "000000"})
    assert wrong.status_code == 422
    shown = wrong.get_data(as_text=True)
    assert (
        '<li><a href="#f-code">Code from your authenticator app: This code is not right.' in shown
    )  # in the summary, named by its label, and beside the field
    assert 'id="f-code-error"' in shown and 'value="000000"' not in shown
    done = client.post(
        "/admin/enrol",
        data={"csrf_token": csrf_token(page), "code": pyotp.TOTP(secret).at(clock.now())},
    )
    # Signed in; the answer shows the recovery codes, once, before going on.
    assert done.status_code == 200 and "Your recovery codes" in done.get_data(as_text=True)
    assert client.get("/admin/").status_code == 200


def test_a_viewer_needs_no_code(client, demo):
    viewer = make_admin(demo, "viewer", "eyes@luxe.example")
    log_in(client, viewer)
    page = client.get("/admin/").get_data(as_text=True)
    assert "Dashboard" in page and "Audit log" not in page


def test_the_session_ends_after_30_idle_minutes(client, demo):
    viewer = make_admin(demo, "viewer")
    start = clock.now()
    clock.freeze(start)
    log_in(client, viewer)
    clock.freeze(start + timedelta(minutes=29))
    assert client.get("/admin/").status_code == 200  # activity moves the window
    clock.freeze(start + timedelta(minutes=58))
    assert client.get("/admin/").status_code == 200
    clock.freeze(start + timedelta(minutes=89))
    answer = client.get("/admin/")
    assert answer.status_code == 302 and "expired=1" in answer.headers["Location"]
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "signed out after 30 minutes" in page
    assert client.get("/admin/").status_code == 302


def test_login_is_rate_limited(app, client, demo):
    app.config["RATELIMIT_ADMIN_LOGIN"] = "3 per minute"
    for _ in range(3):
        assert _try(client, "x@luxe.example", "wrong password!!").status_code == 401
    assert _try(client, "x@luxe.example", "wrong password!!").status_code == 429


def test_sign_out(client, demo):
    log_in(client, make_admin(demo, "viewer"))
    assert post(client, "/admin/logout").status_code == 302
    assert client.get("/admin/").status_code == 302


def test_an_owner_invites_an_admin_who_sets_a_password(client, demo, smtp):
    owner = make_admin(demo, "owner", "boss@luxe.example")
    log_in(client, owner)
    camille = demo.brands[0]
    answer = post(
        client,
        "/admin/admins",
        {"email": "New.Admin@Example.com", "role": "brand_admin", "brands": [camille.id]},
    )
    assert answer.status_code == 302
    deliver()
    [mail] = smtp.to("new.admin@example.com")
    link = next(word for word in text_of(mail).split() if "/admin/invite/" in word)
    path = link.split("portal.test", 1)[1]
    other = client.application.test_client()
    page = form_page(other, path)
    assert "Choose your password" in page
    short = other.post(
        path, data={"csrf_token": csrf_token(page), "password": "short", "password_again": "short"}
    )
    assert short.status_code == 422 and "at least 12 characters" in short.get_data(as_text=True)
    done = other.post(
        path,
        data={"csrf_token": csrf_token(page), "password": PASSWORD, "password_again": PASSWORD},
    )
    assert done.status_code == 302
    assert other.get(path).status_code == 404  # the link works once
    assert _try(other, "new.admin@example.com", PASSWORD).status_code == 302
    page = other.get("/admin/brands").get_data(as_text=True)
    assert "Camille" in page and "Vespera" not in page
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert "admin.invite" in actions and "admin.accept_invite" in actions


def test_the_last_owner_cannot_be_demoted(client, demo):
    owner = make_admin(demo, "owner", "boss@luxe.example")
    log_in(client, owner)
    answer = post(client, f"/admin/admins/{owner.id}", {"role": "viewer"})
    assert answer.status_code == 422
    assert "at least one active owner" in answer.get_data(as_text=True)


def test_ensure_demo_prints_a_working_login_once(client, runner, demo):
    first = runner.invoke(args=["admins", "ensure-demo"])
    assert first.exit_code == 0
    email, password = first.output.split("Console login:")[1].split()[0:3:2]
    assert _try(client, email, password).headers["Location"].startswith("/admin/enrol")
    again = runner.invoke(args=["admins", "ensure-demo"])
    assert password not in again.output
