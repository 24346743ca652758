"""Debian's Chromium through Playwright, against the app served from a thread.

Playwright cannot download browsers here, so it drives /usr/bin/chromium.
"""

import threading
import time
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from portal.extensions import db
from tests.actions import deliver, magic_link

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(
            "Chromium is missing: `make test` installs it (apt-get install chromium)"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_server(app):
    """The test's app on a free loopback port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    app.config["PORTAL_BASE_URL"] = base
    yield base
    server.shutdown()
    thread.join()
    _answered_in_flight()


def _answered_in_flight(seconds: float = 15.0) -> None:
    """Wait for requests still being answered when the test ended (the browser's last fetch):
    the server's shutdown does not wait for its request threads, and one of them holding a
    database connection would fail the app's teardown, which counts them. A request that
    never ends still fails it, after ``seconds``."""
    db.session.remove()  # the test's own connection: only the server's threads are waited on
    deadline = time.monotonic() + seconds
    while db.engine.pool.checkedout() and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.fixture
def page(browser):
    context = browser.new_context()
    context.set_default_timeout(15000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def page_without_js(browser):
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(15000)
    page = context.new_page()
    yield page
    context.close()


def axe_violations(page) -> list:
    """WCAG 2.2 AA violations axe-core finds in the page as it is now, once loaded.

    After a click that posts a form, the new page's elements can be found before its
    stylesheets arrive, and axe would then judge the page unstyled (target-size failing on
    every link of a busy machine): wait for the load event, which follows the stylesheets."""
    page.wait_for_load_state("load")
    # Evaluated through the DevTools protocol: the page's strict CSP forbids injected scripts.
    page.evaluate(AXE.read_text() + "\n;void 0")
    return page.evaluate("""async () => (await axe.run(document, {
        runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]},
        rules: {"target-size": {enabled: true}}})).violations.map(v => ({
            id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(" "))}))""")


def sign_in_by_mail(page, base, smtp, address, language="en"):
    """Ask for a magic link on the sign-in page, let the worker mail it, open it and press the
    button, as a person would; ``base`` is the address the browser uses for the portal."""
    smtp.clear()
    page.goto(f"{base}/luxe/preferences/sign-in?lang={language}")
    page.locator("#email").fill(address)
    page.locator("#sign-in form button").click()
    page.locator("#sign-in form").wait_for(state="detached")
    deliver()
    link = magic_link(smtp.to(address)[-1])
    page.goto(base + link[link.index("/", len("https://")) :])
    page.locator("main form button").click()
    page.wait_for_url("**/preferences/")


def add_topic(page, key, name):
    """On a brand's topics page in the console: add a topic with a name in each language."""
    page.get_by_role("link", name="Add a topic").click()
    page.get_by_label("Key").fill(key)
    for language in ("English", "Français", "Deutsch"):
        page.get_by_label(f"Name in {language}").fill(f"{name} ({language})")
    page.get_by_label("Description in English").fill(f"About {name}.")
    page.get_by_role("button", name="Save the topic").click()
    page.get_by_text(f"The topic {name} (English) is added.").wait_for()
