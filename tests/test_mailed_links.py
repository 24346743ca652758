"""Links in mails act only on a deliberate POST, whatever else opens them.

Mail scanners, link checkers and previews send GET, HEAD, OPTIONS and stranger methods to every
link of a mail. This test finds every route that reads a token from a mailed link in the URL
map (routes with a ``token`` argument), opens each over real HTTP with a valid token as such a
stranger would, and checks that the database is exactly as before; then presses each page's
button (a POST) and checks that the link works, and works once.
"""

import contextlib
import http.client
import http.cookiejar
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import url_for
from werkzeug.serving import make_server

from portal import tokens
from portal.core.consent import unsubscribe as unsubscribing
from portal.core.console import recovery, team
from portal.core.kernel import clock
from portal.core.lifecycle import run
from portal.core.mail import mails
from portal.core.people import access, email_change, self_erasure
from portal.extensions import db
from tests.actions import decide, deliver, sign_up
from tests.factories import PARIS, START, brand, make_admin, member, topic

STRANGE = ["GET", "HEAD", "OPTIONS", "PROPFIND", "PATCH", "PUT", "DELETE", "TRACE", "FOO"]
# Links a person may use once; the others (the mail footer's, List-Unsubscribe) are reusable.
SINGLE_USE = {"confirm-signup", "sign-in", "erase", "change-email", "admin-invite", "keep"}
SINGLE_USE |= {"admin-reset"}
SINGLE_USE |= {"still-right"}
PASSWORD = "a long enough passphrase 42"


def mailed_link_routes(app) -> list:
    """Every rule whose URL carries a token: those are the links we put in mails."""
    return [rule for rule in app.url_map.iter_rules() if "token" in rule.arguments]


def dump() -> dict:
    """Every row of every table, in a stable order: the whole state a request could change."""
    db.session.expire_all()
    state = {}
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            rows = connection.execute(sa.select(table).order_by(*order)).all()
            state[table.name] = [tuple(row) for row in rows]
    return state


@contextlib.contextmanager
def catching(purpose: str, found: dict):
    """Keep the tokens of ``purpose`` the core issues inside the block, in order."""
    real = tokens.issue

    def issue(kind, payload):
        token = real(kind, payload)
        if kind == purpose and token not in found.setdefault(kind, []):
            found[kind].append(token)  # a mail may carry one link twice (text and button)
        return token

    tokens.issue = issue
    try:
        yield
    finally:
        tokens.issue = real


@pytest.fixture
def links(app, client, demo, smtp):
    """Valid tokens of every kind, each as the core mails it, by purpose."""
    found: dict[str, list[str]] = {}
    clock.freeze(START)
    first = member("first@example.com", keys=("news",), postal=PARIS)
    member("second@example.com", keys=("news",), postal=PARIS)
    clock.freeze(START + timedelta(days=550))  # due for re-permission and a postal check
    with catching("still-right", found), catching("keep", found):
        run.run(demo)
    with catching("confirm-signup", found):
        sign_up(client, "joiner@example.com")
        sign_up(client, "another@example.com")
        decide()  # the worker decides what the requests call for, and mails the links
    camille = brand("camille")
    with catching("sign-in", found):
        access.request_link(demo, "first@example.com", "en", camille)
        decide()
    with catching("manage", found):
        mails.manage_token(first)
    with catching("unsubscribe", found):
        unsubscribing.token(first, topic("news"))
    with catching("change-email", found):
        email_change.request(first, "moved@example.com", camille, "en")
        decide()
    leaving = member("leaving@example.com", keys=("news",))
    with catching("erase", found):
        self_erasure.send_link(leaving, camille, "en")
    owner = make_admin(demo, "owner")
    with catching("admin-invite", found):
        team.invite(owner, "new-admin@example.com", "viewer", [], "en", ("LÜXE", "a@luxe.test"))
    with catching("admin-reset", found):
        recovery.request_reset(owner.email, "en", ("LÜXE", "a@luxe.test"))
    deliver()
    return found


@pytest.fixture
def server(app):
    """The app on a real socket, as a stranger meets it."""
    served = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served.server_port
    served.shutdown()
    thread.join()


def _path(app, rule, token: str) -> str:
    values = {"token": token}
    if "group" in rule.arguments:
        values["group"] = "luxe"
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def _plan(app, links) -> list[tuple]:
    """(rule, purpose, path) for every mailed-link route, each with a token of its own."""
    unused = {purpose: list(found) for purpose, found in links.items()}
    plan = []
    for rule in sorted(mailed_link_routes(app), key=lambda rule: rule.endpoint):
        purpose = getattr(app.view_functions[rule.endpoint], "mailed_link", None)
        assert purpose in tokens.PURPOSES, f"{rule.rule} reads a token without mailed_link"
        assert unused.get(purpose), f"no {purpose} token left for {rule.rule}"
        plan.append((rule, purpose, _path(app, rule, unused[purpose].pop(0))))
    # The erasure link erases its person: pressed last, nothing else depends on it.
    return sorted(plan, key=lambda step: step[1] == "erase")


def _send(port: int, method: str, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, headers={"User-Agent": "LinkChecker/1.0"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


INPUT = re.compile(r"<input\b[^>]*>")
SELECT = re.compile(r'<select\b[^>]*name="([^"]+)"[^>]*>(.*?)</select>', re.S)
SELECTED = re.compile(r'<option value="([^"]*)"[^>]*selected')
ATTRIBUTE = re.compile(r'(\w[\w-]*)="([^"]*)"')


def _form(html: str, path: str) -> dict:
    """The fields of the page's form that posts back to ``path``, as a browser sends them."""
    start = html.find(f'action="{path}"')
    if start == -1:  # a form without an action posts back to the page itself
        start = html.find('<form method="post"')
    assert start != -1, f"no button posting to {path}"
    fields = {}
    section = html[start : html.find("</form>", start)]
    for tag in INPUT.findall(section):
        attributes = dict(ATTRIBUTE.findall(tag))
        if "name" not in attributes:
            continue
        value = attributes.get("value", "")
        if attributes.get("type") == "password":
            value = PASSWORD
        fields[attributes["name"]] = value
    for name, options in SELECT.findall(section):
        fields[name] = SELECTED.search(options).group(1)
    return fields


def _press(port: int, path: str) -> int:
    """Open the link in a browser (cookies kept), then press the page's button."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = f"http://127.0.0.1:{port}"
    fields = {}
    try:
        with opener.open(base + path, timeout=30) as page:
            fields = _form(page.read().decode(), path)
    except urllib.error.HTTPError as error:
        if error.code != 405:  # a POST-only route (resend) has no page of its own
            raise
        fields = {"csrf_token": _csrf(opener, base)}
    body = urllib.parse.urlencode(fields).encode()
    try:
        with opener.open(base + path, data=body, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def _csrf(opener, base: str) -> str:
    with opener.open(base + "/luxe/join/camille", timeout=30) as page:
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.read().decode()).group(1)


def test_mailed_links_change_nothing_until_their_button_is_pressed(app, links, server):
    routes = mailed_link_routes(app)
    assert routes
    purposes = {getattr(app.view_functions[rule.endpoint], "mailed_link", None) for rule in routes}
    # Every kind of link we mail has its route; the erasure status link never acts (its route
    # reads a ``ticket`` and only shows, tested in tests/api/test_erasure_requests.py).
    assert purposes == set(tokens.PURPOSES) - {"erasure-status"}
    plan = _plan(app, links)

    before = dump()
    for rule, _purpose, path in plan:
        for method in STRANGE:
            status = _send(server, method, path)
            assert status < 500, (method, path, status)
            if method in ("GET", "HEAD") and "GET" in rule.methods:
                assert status == 200, (method, path, status)
            elif method not in rule.methods:
                assert status == 405, (method, path, status)
    assert dump() == before  # nothing changed, nothing consumed

    for rule, purpose, path in plan:
        ahead = dump()
        status = _press(server, path)
        assert status < 400, (rule.rule, status)
        after = dump()
        if purpose != "manage":  # the footer link only signs in: a cookie, no row
            assert after != ahead, f"pressing {rule.rule}'s button did nothing"
        if purpose in SINGLE_USE and rule.endpoint != "signup.resend":
            _press_again(server, path, rule)
            assert dump() == after, f"{rule.rule} acted twice"


def _press_again(port: int, path: str, rule) -> None:
    with contextlib.suppress(AssertionError, urllib.error.HTTPError):
        _press(port, path)  # a used link shows no button any more, or refuses
