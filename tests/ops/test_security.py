"""Security headers, a strict CSP the pages live with, and secrets refused outside development."""

import re

import pytest

from portal import create_app
from portal.config import ConfigError
from tests.actions import decide, sign_up

GOOD_KEY = "dGVzdC1kYXRhLWtleS10ZXN0LWRhdGEta2V5LXRlc3Q="
OTHER_KEY = "dGVzdC1oYXNoLWtleS10ZXN0LWhhc2gta2V5LXRlc3Q="


def test_every_answer_carries_the_security_headers(client, demo):
    for url in ("/luxe/", "/luxe/join/camille", "/nowhere", "/healthz"):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
            assert directive in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in headers  # development


def test_pages_have_no_inline_script_or_style(client, demo):
    pages = [client.get(u).get_data(as_text=True) for u in ("/luxe/", "/luxe/join/camille")]
    pages.append(sign_up(client, "").get_data(as_text=True))
    for html in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
        assert " style=" not in html and "<style" not in html


def test_static_files_may_be_cached(client):
    with client.get("/static/portal.css") as response:
        assert "no-store" not in response.headers.get("Cache-Control", "")


@pytest.mark.parametrize(
    "env, message",
    [
        ({"SECRET_KEY": "short-but-random-0123"}, "SECRET_KEY is too short"),
        ({"SECRET_KEY": "change-me"}, "SECRET_KEY is a default"),
        ({"PORTAL_DATA_KEY": "bm90LWVub3VnaA=="}, "PORTAL_DATA_KEY must decode to 32 bytes"),
        ({"PORTAL_HASH_KEY": GOOD_KEY}, "must be different keys"),
        ({"PORTAL_HASH_KEY": ""}, "PORTAL_HASH_KEY"),
    ],
)
def test_production_refuses_weak_secrets_and_says_which(monkeypatch, env, message):
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "k3y-" + "a1b2c3d4e5f6g7h8i9j0" * 2)
    monkeypatch.setenv("PORTAL_DATA_KEY", GOOD_KEY)
    monkeypatch.setenv("PORTAL_HASH_KEY", OTHER_KEY)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        create_app()


def test_production_with_good_secrets_starts_with_strict_cookies(monkeypatch):
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "k3y-" + "a1b2c3d4e5f6g7h8i9j0" * 2)
    monkeypatch.setenv("PORTAL_DATA_KEY", GOOD_KEY)
    monkeypatch.setenv("PORTAL_HASH_KEY", OTHER_KEY)
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-session"
    response = app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_proxy_hops_decide_the_client_address(app, client, demo, monkeypatch):
    from portal.core.consent.models import LedgerEntry
    from portal.extensions import db

    spoofed = {"X-Forwarded-For": "198.51.100.77"}
    sign_up(client, "direct@example.com", headers=spoofed)
    decide()
    row = db.session.query(LedgerEntry).first()
    from portal.core.consent.ledger import personal_part

    assert personal_part(row)["ip"] == "127.0.0.0"  # no proxy configured: the header is ignored


def test_a_retention_of_daily_figures_shorter_than_the_dashboard_is_refused(monkeypatch):
    monkeypatch.setenv("DAILY_FIGURES_DAYS", "30")
    with pytest.raises(ConfigError, match="DAILY_FIGURES_DAYS must be at least 91"):
        create_app()
