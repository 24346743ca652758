"""Factories and one-line actions for the console tests."""

import pyotp
from flask import g

from portal.core.console import admins
from portal.core.console.models import BRAND_ADMIN, AdminAccount
from portal.core.kernel import clock
from portal.core.kernel.models.group import Brand
from portal.extensions import db
from tests.conftest import csrf_token

PASSWORD = "correct horse battery staple"


def make_admin(group, role, email=None, brands=(), totp=None) -> AdminAccount:
    """An admin who has accepted their invitation; owners come with two-factor codes on."""
    account = admins.new_account(
        group, email or f"{role}@admins.example", role, [b.id for b in brands]
    )
    account.password_hash = admins._hasher.hash(PASSWORD)
    if totp if totp is not None else role == "owner":
        account.totp_secret, account.totp_enabled = pyotp.random_base32(), True
    db.session.commit()
    return account


def create_owner(runner, email: str, password: str = PASSWORD):
    """``flask admins create-owner`` for the demo group, the password typed on stdin."""
    args = ["admins", "create-owner", "--group", "luxe", "--email", email, "--password-stdin"]
    result = runner.invoke(args=args, input=password + "\n")
    assert result.exit_code == 0, result.output
    return result


def code_for(account: AdminAccount) -> str:
    return pyotp.TOTP(account.totp_secret).at(clock.now())


def form_page(client, url: str) -> str:
    """A page with a form, as this client's browser would get it.

    The tests run inside one app context, whose ``g`` would otherwise hand the CSRF token of
    one client's session to another client.
    """
    g.pop("csrf_token", None)
    return client.get(url).get_data(as_text=True)


def log_in(client, account: AdminAccount, password=PASSWORD):
    page = form_page(client, "/admin/login")
    data = {"csrf_token": csrf_token(page), "email": account.email, "password": password}
    if account.totp_enabled:
        data["code"] = code_for(account)
    answer = client.post("/admin/login", data=data)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return answer


def post(client, url, data=None, **kwargs):
    """Submit a console form like a browser: open the page for its CSRF token, then post."""
    page = form_page(client, "/admin/account")
    return client.post(url, data={"csrf_token": csrf_token(page), **(data or {})}, **kwargs)


def brand(slug: str) -> Brand:
    return db.session.scalar(db.select(Brand).where(Brand.slug == slug))


def brand_admin(group, *slugs, email=None) -> AdminAccount:
    return make_admin(group, BRAND_ADMIN, email=email, brands=[brand(s) for s in slugs])
