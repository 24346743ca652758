"""Fuzzing every form and JSON body the portal accepts: bad input never gets a 500.

Routes are read from the URL map, so a new form or endpoint is fuzzed without touching this
file. The fuzz reaches the views' own input handling: the person is signed in to the
preference centre, the console is used by an owner who has passed two-factor, and every route
that takes a token gets a genuine one, read from the mails the portal sent. A route that only
ever answered "sign in first" fails the test, so the fuzz cannot quietly go back to knocking
on closed doors.

Derandomised (the same examples every run, so CI is stable) and on one database only: what
is checked is the handling of input, which the database plays no part in.
"""

import itertools
import re
from datetime import timedelta

import pytest
from flask import g
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.core.console import recovery, team
from portal.core.console.models import AdminAccount
from portal.core.integrations import clients
from portal.core.kernel import clock
from portal.core.kernel.models.group import Brand, Topic
from portal.core.lifecycle import run
from portal.core.mail import topic_mail
from portal.core.people import email_change, profile, self_erasure
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.actions import deliver, log_in, request_link, sign_in, sign_up, subscribed
from tests.factories import PARIS, START, make_admin, member
from tests.smtp import text_of

# On PostgreSQL alone, the stricter of the two with what fuzzing sends (NUL characters,
# integers past 32 bits): where bad input would most likely become a 500.
pytestmark = pytest.mark.one_database("postgresql")

FIELD = re.compile(r'name="([A-Za-z0-9_\-\[\]]+)"')
LINK = re.compile(r"http://portal\.test(/[^\s<>\"]+)")
PERSON, OWNER = "fuzz@example.org", "owner@admins.example"
# Values people and scripts send: empty, huge, control characters, markup, numbers, unicode.
VALUE = st.one_of(
    st.text(max_size=40),
    st.text(min_size=255, max_size=3000),
    st.sampled_from(
        [
            "",
            " ",
            "\r\n",
            "0",
            "-1",
            "99999999999999999999",
            "1e309",
            "null",
            "<script>alert(1)</script>",
            "a@b",
            "x" * 300 + "@example.com",
            "ann@example.com\r\nBcc: x@example.com",
            "jürgen@bücher.example",
            "'; DROP TABLE subject; --",
            "%00",
            "\x00",
            "\ud800",
            "💥",
            "true",
            "[]",
            "{}",
            "1:email:1",
            "2099-02-30",
        ]
    ),
)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
SETTINGS = settings(
    max_examples=8,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Redirects that mean "you may not be here": the fuzz did not reach the view's input.
CLOSED = re.compile(r"/(sign-in|login|confirm-it-is-you)(\?|$)")


class Portal:
    """A signed-in person, a signed-in owner and genuine tokens, re-established when lost."""

    def __init__(self, app, smtp, demo):
        self.app, self.smtp, self.demo = app, smtp, demo
        self.person, self.owner = app.test_client(), app.test_client()
        self.tokens: dict[str, str] = {}
        self.people = 0

    def setup(self) -> None:
        # Lifecycle mails: asked again after 18 months (keep), details a year old (still right).
        clock.freeze(START)
        member("quiet@example.org")
        clock.freeze(START + timedelta(days=180))
        member("moved@example.org", postal=PARIS)
        clock.freeze(START + timedelta(days=550))
        subscribed(self.person, self.smtp, PERSON)
        run.run(self.demo)
        self.account = make_admin(self.demo, "owner", email=OWNER)
        self.client_id = clients.create("luxe", "CRM", ["consent:read"], None, False)[0].id
        subject = db.session.scalar(select(Subject).order_by(Subject.id.desc()).limit(1))
        brand = self.brand()
        g.pop("csrf_token", None)  # one app context serves several clients here
        sign_up(self.app.test_client(), "pending@example.org")  # confirm, resend
        g.pop("csrf_token", None)
        request_link(self.app.test_client(), PERSON)  # a magic link
        self_erasure.send_link(subject, brand, "en")
        email_change.request(subject, "new-home@example.org", brand, "en")
        db.session.commit()
        topic_mail.send_topic(self.topic(), "News", "Hello.")  # unsubscribe
        team.invite(self.account, "new@admins.example", "viewer", [], "en", ("P", "p@x.example"))
        # A reset link of another admin: the owner's own password must stay what ensure() uses.
        forgetful = make_admin(self.demo, "viewer", email="forgetful@admins.example")
        recovery.request_reset(forgetful.email, "en", ("P", "p@x.example"))
        deliver()
        self._read_tokens()
        self.ensure()
        self.app.config["WTF_CSRF_ENABLED"] = True

    def brand(self) -> Brand:
        return db.session.scalar(select(Brand).where(Brand.slug == "camille"))

    def topic(self) -> Topic:
        return db.session.scalar(select(Topic).where(Topic.brand_id == self.brand().id))

    def _read_tokens(self) -> None:
        adapter = self.app.url_map.bind("portal.test")
        for message in self.smtp.messages:
            for path in LINK.findall(text_of(message)):
                endpoint, arguments = adapter.match(path.split("?")[0], method="GET")
                if "token" in arguments:
                    self.tokens.setdefault(endpoint, arguments["token"])
        self.tokens.setdefault("signup.resend", self.tokens.get("signup.confirm"))
        self.smtp.clear()

    def ensure(self) -> None:
        """Sign the person and the owner in again if the last route signed them out."""
        g.pop("csrf_token", None)
        self.app.config["WTF_CSRF_ENABLED"] = True  # signing in as people do
        if self.person.get("/luxe/my-data/").status_code != 200:
            # Signed out, erased or moved to another address by the last route: a new person.
            self.people += 1
            address = f"fuzz-{self.people}@example.org"
            subscribed(self.person, self.smtp, address)
            g.pop("csrf_token", None)
            sign_in(self.person, self.smtp, address)
            self.smtp.clear()
        if self.owner.get("/admin/").status_code != 200:
            clock.freeze(clock.now() + timedelta(seconds=31))  # a two-factor code is used once
            account = db.session.get(AdminAccount, self.account.id)
            log_in(self.owner, account)
        self.app.config["WTF_CSRF_ENABLED"] = False

    def values(self, argument: str, endpoint: str) -> list:
        ids = {
            "group": ["luxe"],
            "brand": ["camille"],
            "channel": ["email"],
            "topic_id": [self.topic().id],
            "brand_id": [self.brand().id],
            "admin_id": [self.account.id],
            "client_id": [self.client_id],
            "endpoint_id": [1],
            "passkey_id": [1],
            "name": profile.names_of(self.demo),
        }
        if argument == "token":
            assert self.tokens.get(endpoint), f"no mailed token for {endpoint}"
            return [self.tokens[endpoint]]
        return ids[argument]

    def post_routes(self):
        for rule in sorted(self.app.url_map.iter_rules(), key=lambda r: r.rule):
            if "POST" not in rule.methods or rule.endpoint.startswith("api."):
                continue
            arguments = sorted(rule.arguments)
            choices = [self.values(a, rule.endpoint) for a in arguments]
            for combination in itertools.product(*choices):
                values = dict(zip(arguments, combination, strict=True))
                yield rule, rule.build(values, append_unknown=False)[1]

    def client_for(self, path: str):
        return self.owner if path.startswith("/admin") else self.person


@pytest.fixture
def portal(app, demo, smtp):
    # The limits are read per request: thousands of posts from one address are the point here.
    for name in ("RATELIMIT_SIGNUP_IP", "RATELIMIT_SIGNUP_ADDRESS", "RATELIMIT_ADMIN_LOGIN"):
        app.config[name] = "100000 per minute"
    portal = Portal(app, smtp, demo)
    portal.setup()  # as people do it, with CSRF tokens
    app.config["WTF_CSRF_ENABLED"] = False  # then reach the view's own validation
    return portal


def _reached(answers: list) -> bool:
    """Whether any answer came from the view rather than from a "sign in first" redirect."""
    return any(
        not (300 <= status < 400 and CLOSED.search(location or "")) for status, location in answers
    )


def _fuzz_form(client, rule, path: str, names: list[str]) -> list:
    answers = []

    @SETTINGS
    @given(
        form=st.dictionaries(
            st.sampled_from(names) | st.text(max_size=8),
            st.lists(VALUE, min_size=1, max_size=3),
            max_size=6,
        )
    )
    def post(form):
        form = {key: [v.encode("utf-8", "surrogatepass") for v in values]
                for key, values in form.items()}  # fmt: skip
        answer = client.post(path, data=form, headers={"HX-Request": "true"})
        assert answer.status_code < 500, (rule.rule, form)
        answers.append((answer.status_code, answer.headers.get("Location")))

    post()
    return answers


def test_every_post_route_survives_random_forms_as_the_people_who_use_it(portal):
    closed = []
    routes = list(portal.post_routes())
    assert len(routes) > 40, "the URL map lost its forms"
    for rule, path in routes:
        client = portal.client_for(path)
        g.pop("csrf_token", None)
        page = client.get(path)
        names = sorted(set(FIELD.findall(page.get_data(as_text=True)))) or ["email", "value"]
        answers = _fuzz_form(client, rule, path, names)
        if not _reached(answers) and rule.endpoint != "admin.logout":  # it answers with login
            closed.append(path)
        portal.ensure()
    assert closed == [], "never got past 'sign in first'"


def test_every_post_route_survives_random_json(portal):
    for rule, path in portal.post_routes():
        client = portal.client_for(path)

        @settings(SETTINGS, max_examples=4)
        @given(body=JSON_VALUE)
        def post(body):
            answer = client.post(path, json=body)  # noqa: B023 - run before the next route
            assert answer.status_code < 500, (rule.rule, body)  # noqa: B023

        post()
        raw = client.post(path, data=b"{not json", content_type="application/json")
        assert raw.status_code < 500, rule.rule
        portal.ensure()
