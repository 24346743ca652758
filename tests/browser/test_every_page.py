"""Every page, as each reader sees it: customer and console (every role), in English, French
and German, at 1366 and 390 px wide. On each: no sideways scrolling, no axe finding (WCAG 2.0
to 2.2 A/AA and best practice), no raw code or English sentence left on a French or German
page, every input at least 44 px high.

One server, one browser and one database for the whole walk, so it stays a few seconds per
language. With ``PORTAL_SCREENSHOTS=<folder>`` (``make screenshots``) it also writes a PNG of
each English page at both widths into that folder.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from portal.core.consent.models import SignupRequest
from portal.core.consent.signup import latest_text
from portal.core.kernel import clock
from portal.core.kernel.models.group import Topic
from portal.core.people import subjects
from portal.extensions import db
from tests.actions import code_for, subscribed
from tests.browser.conftest import AXE, sign_in_by_mail
from tests.factories import PASSWORD, brand, finished_import, make_admin, member

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
WIDTHS = {"wide": (1366, 900), "narrow": (390, 844)}
LANGUAGES = tuple(os.environ.get("PORTAL_WALK_LANGUAGES", "en,fr,de").split(","))
SHOTS = os.environ.get("PORTAL_SCREENSHOTS")
# The three screens the README shows (docs/screenshots/), written with the others.
README_SHOTS = {
    ("centre", "wide"): "centre",
    ("owner-console-admin", "wide"): "dashboard",
    ("centre", "narrow"): "mobile",
}
# Every page, in every language and at both widths, for every role: overflow, input sizes,
# words and axe (a translation changes lengths and words, which is where layouts break).
ROLES = ("owner", "brand_admin", "viewer")

# Codes the portal stores; a page in any language names them in words.
CODES = re.compile(
    r"^(expired|retention|withdrawn|granted|pending|active|erased|email_signup|"
    r"preference_centre|one_click|import|api|admin|subject|sms|post|email)$"
)


def _english_sentences(language: str) -> set[str]:
    """Messages whose translation differs from the English: finding the English text on a
    page in ``language`` means a string escaped translation. Only messages of three words
    or more without placeholders, so a brand's name or "OK" never counts."""
    path = ROOT / "translations" / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle)
    found = set()
    for message in catalog:
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        text = message.string if isinstance(message.string, str) else message.string[0]
        if not msgid or "%" in msgid or "{" in msgid or "<" in msgid or not text:
            continue
        if text != msgid and len(msgid.split()) >= 3:
            found.add(msgid.strip())
    return found


CHECKS = """() => {
  const root = document.documentElement;
  const overflow = root.scrollWidth - root.clientWidth;
  const small = [];
  for (const el of document.querySelectorAll(
      'input:not([type=hidden]):not([type=checkbox]):not([type=radio]), select, textarea')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;   // not shown (a closed <details>)
    if (box.height < 44) small.push((el.id || el.name) + ' ' + Math.round(box.height) + 'px');
  }
  const lines = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const parent = node.parentElement;
    const skipped = 'script, style, template, [hidden], code, pre, kbd';
    if (text && parent && !parent.closest(skipped)) lines.push(text);
  }
  return {overflow, small, lines};
}"""

AXE_RUN = """async () => (await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa",
                                     "best-practice"]},
    resultTypes: ["violations"],
    rules: {"target-size": {enabled: true}}})).violations.map(v => ({
        id: v.id, nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 3)}))"""


class Walk:
    """Goes to pages in one browser tab and gathers every problem instead of stopping at the
    first: one run shows all that is left to fix."""

    def __init__(self, page, base):
        self.page, self.base, self.problems = page, base, []
        self.axe = AXE.read_text() + "\n;void 0"
        self.english = {code: _english_sentences(code) for code in ("fr", "de")}
        self.count = 0

    def check(self, path: str, language: str, name: str, status: int | None = None):
        page = self.page
        for width, size in WIDTHS.items():
            page.set_viewport_size({"width": size[0], "height": size[1]})
            if width == "wide":
                answer = page.goto(self.base + path)
                if status is not None:
                    assert answer.status == status, f"{path}: {answer.status}"
                page.wait_for_load_state("load")
            where = f"{name} [{language}, {size[0]}px]"
            found = page.evaluate(CHECKS)
            if found["overflow"] > 0:
                self.problems.append(f"{where}: scrolls sideways by {found['overflow']}px")
            if found["small"]:
                self.problems.append(f"{where}: inputs under 44px: {found['small']}")
            if width == "wide":
                self._words(where, language, found["lines"])
            page.evaluate(self.axe)
            for violation in page.evaluate(AXE_RUN):
                self.problems.append(f"{where}: axe {violation['id']} {violation['nodes']}")
            if SHOTS and language == "en":
                folder = Path(SHOTS)
                folder.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(folder / f"{name}-{size[0]}.png"), full_page=True)
                if (name, width) in README_SHOTS:  # the first screen only, for the README
                    shot = folder / f"readme-{README_SHOTS[name, width]}.png"
                    page.screenshot(path=str(shot))
            self.count += 1

    def _words(self, where, language, lines):
        for line in lines:
            if CODES.match(line):
                self.problems.append(f"{where}: raw code {line!r}")
            elif language != "en" and line in self.english[language]:
                self.problems.append(f"{where}: untranslated {line!r}")


def _log_in(page, base, account):
    page.goto(f"{base}/admin/login")
    page.locator("#f-email").fill(account.email)
    page.locator("#f-password").fill(PASSWORD)
    if account.totp_enabled:
        page.locator("#f-code").fill(code_for(account))
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/admin/")


def _console_paths(page) -> list[str]:
    """Every page the console's navigation offers the signed-in admin."""
    hrefs = page.eval_on_selector_all(
        ".console-nav a[href^='/admin']", "links => links.map(a => a.getAttribute('href'))"
    )
    return list(dict.fromkeys(href.split("?")[0] for href in hrefs))


def _weeks_of_signups(group, house):
    """Twelve weeks of sign-ups (most confirmed) and an import, so the charts have bars."""
    text = latest_text(house)
    subject = subjects.find(group.id, "walk@example.com")
    now = clock.now()
    for week, count in enumerate((3, 5, 2, 6, 4, 7, 3, 5, 8, 4, 6)):
        for number in range(count):
            asked = now - timedelta(weeks=week + 1, hours=number)
            db.session.add(
                SignupRequest(
                    subject_id=subject.id,
                    brand_id=house.id,
                    topic_ids=[],
                    source="signup_form",
                    text_version_id=text.id,
                    language="en",
                    policy_version="2026-01",
                    requested_at=asked,
                    confirmed_at=asked + timedelta(hours=2) if number % 4 else None,
                )
            )
    finished_import(group.id, house.id, done=40, failed=2, finished_at=now - timedelta(weeks=3))
    db.session.commit()


# One test per language: the walk is the suite's longest test, and the two workers share the
# languages instead of one worker walking all three.
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_in_every_language_and_width(live_server, browser, client, demo, smtp, language):
    camille = brand("camille")
    # The demo's houses have logos; one without is walked too (its initial in a disc).
    hartwell = brand("hartwell")
    hartwell.logo, hartwell.logo_type = None, None
    db.session.commit()
    owner = make_admin(demo, "owner", f"owner-{language}@luxe.example")
    brand_admin = make_admin(demo, "brand_admin", "camille@luxe.example", brands=[camille])
    viewer = make_admin(demo, "viewer", "viewer@luxe.example")
    subscribed(client, smtp, "walk@example.com")
    _weeks_of_signups(demo, camille)
    member("second@example.com", keys=("news", "events"))
    topic = db.session.scalar(db.select(Topic).where(Topic.brand_id == camille.id))
    customer = [
        ("/luxe/", "group-home"),
        ("/luxe/join/camille", "sign-up"),
        ("/luxe/preferences/sign-in", "sign-in"),
    ]
    signed_in = [
        ("/luxe/preferences/", "centre"),
        ("/luxe/my-data/", "my-data"),
        ("/luxe/my-data/erase", "erase"),
        ("/luxe/nowhere", "customer-404"),
    ]
    details = [
        (f"/admin/brands/{camille.id}", "brand-form"),
        (f"/admin/brands/{camille.id}/topics", "topics"),
        (f"/admin/brands/{camille.id}/figures", "figures"),
        (f"/admin/topics/{topic.id}", "topic-form"),
        ("/admin/brands/new", "brand-new"),
        ("/admin/access-log", "access-log"),
        ("/admin/nowhere", "console-404"),
    ]
    context = browser.new_context()
    context.set_default_timeout(15000)
    walk = Walk(context.new_page(), live_server)
    walk.page.goto(f"{live_server}/luxe/?lang={language}")
    for path, name in customer:
        walk.check(path, language, name)
    sign_in_by_mail(walk.page, live_server, smtp, "walk@example.com", language)
    for path, name in signed_in:
        walk.check(path, language, name)
    walk.page.goto(f"{live_server}/admin/login?lang={language}")
    walk.check("/admin/login", language, "console-login")
    accounts = {"owner": owner, "brand_admin": brand_admin, "viewer": viewer}
    for role in ROLES:
        account = accounts[role]
        _log_in(walk.page, live_server, account)
        seen = _console_paths(walk.page)
        for path in seen:
            name = "console-" + (path.strip("/").split("/", 1)[-1].replace("/", "-") or "home")
            walk.check(path, language, f"{role}-{name}")
        if role == "owner":
            for path, name in details:
                walk.check(path, language, f"{role}-{name}")
        if role == "viewer":
            walk.check("/admin/admins", language, "viewer-403", status=403)
        walk.page.set_viewport_size({"width": 1366, "height": 900})
        walk.page.goto(f"{live_server}/admin/")
        walk.page.locator(".console-nav form button").click()
        walk.page.wait_for_url("**/admin/login**")
    context.close()
    assert walk.problems == [], "\n".join(walk.problems)
