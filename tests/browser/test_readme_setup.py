"""README's "Set up for your company", followed word for word, on each database.

The shell blocks of that section are read from the README and run as they stand, in a fresh
database with mail going to a real SMTP server; the server and worker they start serve the
console steps, which Chromium then follows: the owner enrols two-factor sign-in and keeps the
recovery codes, sets the group's postal address, sets up two brands with topics and consent
texts, invites a brand admin who accepts; a person signs up on a new brand and confirms through
the mail; the owner forgets the password, resets it by mail and signs in with a recovery code.
Only the port differs from the README: 5000 may be taken on a shared machine, so the server
runs on a free port, and again on another if that one is taken before the server binds it.
"""

import contextlib
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa

from tests.browser.conftest import add_topic
from tests.conftest import BACKENDS, POSTGRES_ADMIN
from tests.smtp import text_of

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Set up for your company"
OWNER = "claire@maison-ferrand.example"
PASSWORD = "ferrand owns the portal 2026"
NEW_PASSWORD = "a fresh password for claire"
BLOCK = re.compile(r"```(sh|text)\n(.*?)```", re.S)
LINK = re.compile(r"https?://\S+")


def readme_blocks() -> list[tuple[str, list[str]]]:
    """The section's code blocks, in order: (language, lines)."""
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    section = text[start : text.index("\n## ", start + len(SECTION))]
    return [(kind, body.strip().splitlines()) for kind, body in BLOCK.findall(section)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(params=BACKENDS)
def fresh_database(request, tmp_path):
    """An empty database: the README's `flask db upgrade` makes its tables."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ferrand.sqlite3'}"
        return
    name = f"portal_readme_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield POSTGRES_ADMIN.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _environment(database_url: str, port: int, smtp_port: int) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env.update(
        DATABASE_URL=database_url,
        PORTAL_ENV="development",
        PORTAL_BASE_URL=f"http://127.0.0.1:{port}",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp_port),
        MAIL_TRANSPORT="smtp",
        PASSWORD_HASH_PROFILE="CHEAPEST",
        RATELIMIT_STORAGE_URI="memory://",
    )
    env.pop("FLASK_APP", None)  # the README sets it
    # The README sets no key store: its default file, shared by the commands and the servers
    # (the tests' own in-memory default would give each process a store of its own).
    env.pop("PORTAL_KEYS_URL", None)
    if not database_url.startswith("sqlite"):  # never instance/keys.sqlite3 of the checkout
        name = database_url.rsplit("/", 1)[1]
        env["PORTAL_KEYS_URL"] = f"sqlite:///{tempfile.gettempdir()}/{name}-keys.sqlite3"
    return env


def _run(lines: list[str], env: dict, stdin: str = "") -> str:
    """The lines in one shell, from the clone's folder, as a person types them."""
    done = subprocess.run(
        ["bash", "-e", "-c", "\n".join(lines)],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,  # no terminal: the password prompt reads standard input
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _serve(script: list[str], env_at, log: Path):
    """The README's serve block, its port replaced by a free one; (server, port) once this
    server says it listens. A port is picked free and then bound by another process, so a
    port another program took in between is no failure: the block runs again on another.
    Only the server's own "Running on" counts: a connection could reach the other program."""
    for _ in range(5):
        port = _free_port()
        lines = [*script[:-1], script[-1].replace("5000", str(port))]
        with log.open("w") as output:
            server = subprocess.Popen(
                ["bash", "-c", "\n".join(lines)],
                cwd=ROOT,
                env=env_at(port),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: server and worker end together
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            said = log.read_text()
            if f"Running on http://127.0.0.1:{port}" in said:
                return server, port
            if f"Port {port} is in use by another program" in said:
                break
            assert server.poll() is None, f"the README's server stopped:\n{said}"
            time.sleep(0.2)
        else:
            raise AssertionError(f"the README's server did not start:\n{log.read_text()}")
        _stop(server)
    raise AssertionError("five free ports were each taken before the README's server bound them")


def _stop(server) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group may have ended already
        os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


def _mail_to(smtp, address: str, count: int = 1):
    """The ``count``-th mail to ``address``, once the README's worker has sent it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = smtp.to(address)
        if len(found) >= count:
            return found[count - 1]
        time.sleep(0.3)
    raise AssertionError(f"no mail number {count} to {address}")


def _link(message, part: str) -> str:
    return next(url for url in LINK.findall(text_of(message)) if part in url)


@pytest.fixture
def served(fresh_database, smtp_sink, tmp_path):
    """Blocks 1 to 3 of the section run; yields (base URL, the output of block 2)."""
    smtp_sink.clear()
    blocks = readme_blocks()
    kinds = [kind for kind, _ in blocks]
    assert kinds == ["sh", "sh", "text", "sh"], kinds
    (_, get), (_, setup), (_, shown), (_, serve) = blocks
    assert get[0].startswith("git clone ") and get[1:] == ["make install"]
    shown_port = _free_port()  # what block 2 prints; the server's may differ (see _serve)
    env = _environment(fresh_database, shown_port, smtp_sink.port)
    _run(get[1:], env)  # the clone is this folder; `make install` runs as written
    output = _run(setup, env, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    expected = [line.replace("127.0.0.1:5000", f"127.0.0.1:{shown_port}") for line in shown]
    assert all(line in output.splitlines() for line in expected), output
    assert "owner admin:1 created for maison-ferrand" in output
    exports = [line for line in setup if line.startswith("export ")]
    assert serve[-1] == ".venv/bin/flask run --port 5000"
    at = lambda port: _environment(fresh_database, port, smtp_sink.port)  # noqa: E731
    server, port = _serve([*exports, *serve], at, tmp_path / "served.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(server)


def _sign_in(page, base, email, password, code=""):
    page.goto(f"{base}/admin/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Sign in").click()


def _enrol(page) -> list[str]:
    secret = page.locator("code.secret").inner_text()
    page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    codes = page.locator(".recovery-codes code").all_inner_texts()
    page.get_by_role("link", name="I have kept them: continue").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    return codes


def _add_brand(page, name, slug, colour):
    page.get_by_role("link", name="Brands", exact=True).click()
    page.get_by_role("link", name="Add a brand").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Slug").fill(slug)
    page.get_by_label("Colour").fill(colour)
    page.get_by_label("Privacy policy address").fill(f"https://{slug}.example/privacy")
    page.get_by_label("Sender name").fill(name)
    page.get_by_label("Sender address").fill(f"hello@{slug}.example")
    page.get_by_label("Privacy policy version").fill("2026-12")
    for language in ("English", "Français", "Deutsch"):
        page.get_by_label(f"Consent text in {language}").fill(f"I agree ({language}).")
    page.get_by_role("button", name="Add the brand").click()
    page.get_by_role("heading", name=f"Topics and consent texts of {name}").wait_for()
    assert page.get_by_text("Draft", exact=True).is_visible()


def test_the_readme_setup_walks_from_a_fresh_clone_to_a_live_brand(served, browser, smtp_sink):
    base = served
    context = browser.new_context()
    context.set_default_timeout(20000)
    page = context.new_page()
    # 1. The first owner signs in and enrols two-factor sign-in; the recovery codes show once.
    _sign_in(page, base, OWNER, PASSWORD)
    page.get_by_role("heading", name="Set up two-factor sign-in").wait_for()
    codes = _enrol(page)
    assert len(codes) == 10
    # 2. The group's postal address and privacy policy.
    page.get_by_role("link", name="Group settings").click()
    page.get_by_label("Postal address").fill("Maison Ferrand SA, 8 rue du Faubourg, 75008 Paris")
    page.get_by_label("Privacy policy address").fill("https://maison-ferrand.example/privacy")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("The settings of Maison Ferrand are saved.").wait_for()
    # 3 and 4. Two brands, each a draft until its first topic.
    _add_brand(page, "Ferrand Parfums", "parfums", "#5a1f3d")
    assert page.request.get(f"{base}/maison-ferrand/join/parfums").status == 404
    add_topic(page, "news", "News")
    add_topic(page, "events", "Events")
    page.get_by_role("link", name="Live sign-up page").wait_for()
    _add_brand(page, "Ferrand Cuir", "cuir", "#1f3a5f")
    add_topic(page, "collections", "Collections")
    home = context.new_page()
    home.goto(f"{base}/maison-ferrand/")
    for name in ("Ferrand Parfums", "Ferrand Cuir"):
        home.get_by_role("link", name=f"Sign up to {name}").wait_for()
    # 5. A brand admin is invited, and accepts from the mail.
    page.get_by_role("link", name="Admins").click()
    page.get_by_label("Email address").fill("louis@maison-ferrand.example")
    page.get_by_label("Brand admin: only the brands given below").check()
    page.get_by_label("Ferrand Cuir").check()
    page.get_by_role("button", name="Send the invitation").click()
    page.get_by_text("The invitation is on its way.").wait_for()
    invitation = _mail_to(smtp_sink, "louis@maison-ferrand.example")
    louis = browser.new_context().new_page()
    louis.goto(_link(invitation, "/admin/invite/"))
    louis.get_by_label("New password").fill("louis runs the leather house")
    louis.get_by_label("The same password again").fill("louis runs the leather house")
    louis.get_by_role("button", name="Save my password").click()
    _sign_in(louis, base, "louis@maison-ferrand.example", "louis runs the leather house")
    louis.get_by_role("heading", name="Dashboard").wait_for()
    louis.get_by_role("link", name="Brands", exact=True).click()
    assert louis.get_by_role("cell", name="Ferrand Cuir", exact=True).is_visible()
    assert louis.get_by_role("cell", name="Ferrand Parfums", exact=True).count() == 0
    # A person signs up on the new brand and confirms through the mail.
    person = browser.new_context().new_page()
    person.goto(f"{base}/maison-ferrand/join/parfums")
    person.get_by_label("Email address").fill("ines@example.com")
    person.get_by_label("News (English)").check()
    person.get_by_role("button", name="Sign up").click()
    person.get_by_role("heading", name="Check your inbox").wait_for()
    confirmation = _mail_to(smtp_sink, "ines@example.com")
    assert "Maison Ferrand SA, 8 rue du Faubourg" in text_of(confirmation)
    person.goto(_link(confirmation, "/confirm/"))
    person.get_by_role("button", name="Confirm").click()
    person.get_by_role("heading", name="Thank you, you are subscribed").wait_for()
    # The owner forgets the password and has lost the phone: a mailed link, a recovery code.
    lost = browser.new_context().new_page()
    lost.goto(f"{base}/admin/login")
    lost.get_by_role("link", name="Forgot your password?").click()
    lost.get_by_label("Email address").fill(OWNER)
    lost.get_by_role("button", name="Mail me a link").click()
    lost.get_by_text("If an admin account has this address").wait_for()
    reset = _mail_to(smtp_sink, OWNER)
    lost.goto(_link(reset, "/admin/reset/"))
    lost.get_by_label("New password").fill(NEW_PASSWORD)
    lost.get_by_label("The same password again").fill(NEW_PASSWORD)
    lost.get_by_role("button", name="Save my new password").click()
    lost.get_by_text("Your password is changed. Sign in with it now.").wait_for()
    page.reload()  # the owner's old session ended with the reset
    page.get_by_role("heading", name="Sign in to the console").wait_for()
    _sign_in(lost, base, OWNER, NEW_PASSWORD, codes[0])
    lost.get_by_role("heading", name="Dashboard").wait_for()
    lost.get_by_text("You signed in with a recovery code: 9 are left.").wait_for()
    again = browser.new_context().new_page()
    _sign_in(again, base, OWNER, NEW_PASSWORD, codes[0])  # a recovery code works once
    again.get_by_text("These details do not open an account.").wait_for()
    for opened in (context, louis.context, person.context, lost.context, again.context):
        opened.close()
