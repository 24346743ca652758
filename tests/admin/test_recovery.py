"""An admin who forgets a password or loses a phone gets back in, and only they do."""

import re
from datetime import timedelta

import pyotp
from sqlalchemy import select

from portal.core.console.models import AdminAccount, AuditEntry, RecoveryCode
from portal.core.kernel import clock
from portal.extensions import db
from tests.actions import deliver, form_page, log_in, post
from tests.conftest import csrf_token
from tests.factories import PASSWORD, brand, make_admin
from tests.smtp import text_of

NEW = "a brand new passphrase 77"
RESET = re.compile(r"https?://\S+(/admin/reset/\S+)")
INVITE = re.compile(r"https?://\S+(/admin/invite/\S+)")


def _login(client, email, password, code=""):
    page = form_page(client, "/admin/login")
    return client.post(
        "/admin/login",
        data={"csrf_token": csrf_token(page), "email": email, "password": password, "code": code},
    )


def _signed_in(client) -> bool:
    return client.get("/admin/account").status_code == 200


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_an_admin_changes_their_password_and_other_sessions_end(app, client, demo):
    admin = make_admin(demo, "viewer", "viewer@luxe.example")
    log_in(client, admin)
    elsewhere = app.test_client()
    log_in(elsewhere, admin)
    wrong = post(
        client,
        "/admin/account/password",
        {"current_password": "not it at all", "password": NEW, "password_again": NEW},
    )
    assert wrong.status_code == 422
    assert "This is not your current password." in wrong.get_data(as_text=True)
    done = post(
        client,
        "/admin/account/password",
        {"current_password": PASSWORD, "password": NEW, "password_again": NEW},
    )
    assert done.status_code == 302
    assert "Your password is changed" in client.get("/admin/account").get_data(as_text=True)
    assert _signed_in(client) and not _signed_in(elsewhere)
    assert _login(app.test_client(), admin.email, PASSWORD).status_code == 401
    assert _login(app.test_client(), admin.email, NEW).status_code == 302
    assert "admin.password_change" in _actions()


def test_a_forgotten_password_is_reset_by_mail_once_and_ends_every_session(app, client, demo, smtp):
    admin = make_admin(demo, "brand_admin", "anna@luxe.example", brands=[brand("camille")])
    still_open = app.test_client()
    log_in(still_open, admin)
    answers = []
    for address in ("anna@luxe.example", "nobody@luxe.example"):
        page = form_page(client, "/admin/forgot")
        answer = client.post(
            "/admin/forgot", data={"csrf_token": csrf_token(page), "email": address}
        )
        answers.append((answer.status_code, answer.get_data(as_text=True)))
    assert answers[0] == answers[1]  # the same answer, known address or not
    assert "If an admin account has this address" in answers[0][1]
    deliver()
    assert smtp.to("nobody@luxe.example") == []
    [mail] = smtp.to("anna@luxe.example")
    path = RESET.search(text_of(mail)).group(1)
    page = client.get(path)  # a mail scanner's GET changes nothing
    assert page.status_code == 200 and "Choose a new password" in page.get_data(as_text=True)
    assert _login(app.test_client(), admin.email, PASSWORD).status_code == 302
    html = page.get_data(as_text=True)
    short = client.post(
        path, data={"csrf_token": csrf_token(html), "password": "short", "password_again": "short"}
    )
    assert short.status_code == 422
    done = client.post(
        path, data={"csrf_token": csrf_token(html), "password": NEW, "password_again": NEW}
    )
    assert done.status_code == 302
    assert client.get(path).status_code == 404  # single use
    assert not _signed_in(still_open)
    assert _login(app.test_client(), admin.email, PASSWORD).status_code == 401
    assert _login(app.test_client(), admin.email, NEW).status_code == 302
    assert "admin.password_reset" in _actions()


def test_enrolment_shows_ten_recovery_codes_once_each_works_once(app, client, demo):
    owner = make_admin(demo, "owner", "owner@luxe.example", totp=False)
    assert _login(client, owner.email, PASSWORD).headers["Location"].startswith("/admin/enrol")
    page = form_page(client, "/admin/enrol")
    db.session.refresh(owner)
    code = pyotp.TOTP(owner.totp_secret).now()
    shown = client.post("/admin/enrol", data={"csrf_token": csrf_token(page), "code": code})
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "Your recovery codes" in html
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", html)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10 and not set(codes) & set(stored)
    assert all(value.startswith("$argon2id$") for value in stored)
    assert shown.headers["Cache-Control"] == "no-store"
    # A lost phone: a recovery code opens the console once, then never again.
    phone_lost = app.test_client()
    assert _login(phone_lost, owner.email, PASSWORD, codes[3].upper()).status_code == 302
    assert "9 are left" in phone_lost.get("/admin/account").get_data(as_text=True)
    assert _login(app.test_client(), owner.email, PASSWORD, codes[3]).status_code == 401
    assert "admin.recovery_code_used" in _actions()


def test_an_owner_resets_another_admins_two_factor_audited(client, demo):
    owner = make_admin(demo, "owner", "owner@luxe.example")
    other = make_admin(demo, "owner", "second@luxe.example")
    log_in(client, owner)
    page = client.get(f"/admin/admins/{other.id}").get_data(as_text=True)
    assert "Reset two-factor sign-in" in page
    assert post(client, f"/admin/admins/{other.id}/reset-two-factor").status_code == 302
    db.session.refresh(other)
    assert not other.totp_enabled and other.totp_secret is None
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "admin.totp_reset"))
    assert entry.admin_id == owner.id and entry.target == other.label
    # An owner has to enrol again at the next login.
    again = _login(client.application.test_client(), other.email, PASSWORD)
    assert again.headers["Location"].startswith("/admin/enrol")
    own = post(client, f"/admin/admins/{owner.id}/reset-two-factor")
    assert own.status_code == 422


def test_two_factor_can_be_turned_off_except_by_owners(client, demo):
    viewer = make_admin(demo, "viewer", "viewer@luxe.example", totp=True)
    log_in(client, viewer)
    assert (
        post(client, "/admin/account/two-factor/off", {"off_password": "wrong one!"}).status_code
        == 422
    )
    assert (
        post(client, "/admin/account/two-factor/off", {"off_password": PASSWORD}).status_code == 302
    )
    db.session.refresh(viewer)
    assert not viewer.totp_enabled
    owner_client = client.application.test_client()
    owner = make_admin(demo, "owner", "owner@luxe.example")
    log_in(owner_client, owner)
    assert "Owners must keep two-factor sign-in." in owner_client.get("/admin/account").get_data(
        as_text=True
    )
    refused = post(owner_client, "/admin/account/two-factor/off", {"off_password": PASSWORD})
    assert refused.status_code == 422
    db.session.refresh(owner)
    assert owner.totp_enabled


def _invite(client, email):
    answer = post(client, "/admin/admins", {"email": email, "role": "viewer"})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return db.session.scalar(select(AdminAccount).where(AdminAccount.role == "viewer"))


def test_invitations_are_resent_replaced_when_expired_and_revoked(app, client, demo, smtp):
    log_in(client, make_admin(demo, "owner", "owner@luxe.example"))
    invited = _invite(client, "new@luxe.example")
    deliver()
    first = INVITE.search(text_of(smtp.to("new@luxe.example")[-1])).group(1)
    clock.freeze(clock.now() + timedelta(days=8))
    log_in(client, db.session.get(AdminAccount, 1))
    assert "Invitation expired" in client.get("/admin/admins").get_data(as_text=True)
    assert "has expired" in client.get(f"/admin/admins/{invited.id}").get_data(as_text=True)
    assert post(client, f"/admin/admins/{invited.id}/resend").status_code == 302
    deliver()
    second = INVITE.search(text_of(smtp.to("new@luxe.example")[-1])).group(1)
    assert second != first
    visitor = app.test_client()
    assert visitor.get(first).status_code == 404  # the old link no longer works
    assert visitor.get(second).status_code == 200
    assert post(client, f"/admin/admins/{invited.id}/revoke").status_code == 302
    assert visitor.get(second).status_code == 404
    listing = client.get("/admin/admins").get_data(as_text=True)
    assert "The invitation to new@luxe.example is withdrawn." in listing
    assert "<td>new@luxe.example</td>" not in listing
    _invite(client, "new@luxe.example")  # the address may be invited again
    assert {"admin.invite_resend", "admin.invite_revoke"} <= set(_actions())


def test_an_owner_deactivates_an_admin_who_is_signed_out(app, client, demo):
    log_in(client, make_admin(demo, "owner", "owner@luxe.example"))
    viewer = make_admin(demo, "viewer", "viewer@luxe.example")
    theirs = app.test_client()
    log_in(theirs, viewer)
    post(client, f"/admin/admins/{viewer.id}", {"role": "viewer", "disabled": "1"})
    assert not _signed_in(theirs)
    assert _login(app.test_client(), viewer.email, PASSWORD).status_code == 401


def test_an_operator_resets_a_password_from_the_command_line(app, runner, demo):
    owner = make_admin(demo, "owner", "owner@luxe.example")
    signed = app.test_client()
    log_in(signed, owner)
    args = ["admins", "reset-password", "--email", "owner@luxe.example", "--password-stdin"]
    weak = runner.invoke(args=args, input="short\n")
    assert weak.exit_code == 1 and "at least 12 characters" in weak.output
    unknown = runner.invoke(
        args=[*args[:3], "no@luxe.example", "--password-stdin"], input=NEW + "\n"
    )
    assert "no admin with the address 'no@luxe.example'" in unknown.output
    done = runner.invoke(args=[*args, "--reset-two-factor"], input=NEW + "\n")
    assert done.exit_code == 0, done.output
    assert "two-factor sign-in is off" in done.output
    assert not _signed_in(signed)
    answer = _login(app.test_client(), owner.email, NEW)
    assert answer.headers["Location"].startswith("/admin/enrol")
