"""Fuzzing every form and JSON body the portal accepts: bad input never gets a 500.

Routes are read from the URL map, so a new form or endpoint is fuzzed without touching this
file. Bounded: a fixed number of examples per route.
"""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.core.kernel import clock

FIELD = re.compile(r'name="([A-Za-z0-9_\-\[\]]+)"')
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
            "'; DROP TABLE subject; --",
            "%00",
            "\x00",
            "💥",
            "true",
            "[]",
            "{}",
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
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _value_for(argument: str) -> str:
    return {"group": "luxe", "brand": "camille"}.get(argument, "1")


def _post_routes(app):
    routes = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint == "static":
            continue
        values = {argument: _value_for(argument) for argument in rule.arguments}
        routes.append((rule.rule, rule.build(values, append_unknown=False)[1]))
    return sorted(routes)


@pytest.fixture
def fuzz_client(app, demo):
    app.config["WTF_CSRF_ENABLED"] = False  # reach the view's own validation
    app.config["RATELIMIT_ENABLED"] = False
    return app.test_client()


def _fuzz_forms(client, rule: str, path: str, names: list[str]) -> None:
    @SETTINGS
    @given(
        form=st.dictionaries(
            st.sampled_from(names) | st.text(max_size=8),
            st.lists(VALUE, min_size=1, max_size=3),
            max_size=6,
        )
    )
    def post(form):
        answer = client.post(path, data=form)
        assert answer.status_code < 500, (rule, form)

    post()


def _fuzz_json(client, rule: str, path: str) -> None:
    @SETTINGS
    @given(body=JSON_VALUE)
    def post(body):
        answer = client.post(path, json=body)
        assert answer.status_code < 500, (rule, body)

    post()


def test_every_post_route_survives_random_forms(app, fuzz_client):
    routes = _post_routes(app)
    assert routes, "no POST route found"
    for rule, path in routes:
        page = fuzz_client.get(path)
        names = sorted(set(FIELD.findall(page.get_data(as_text=True)))) or ["email", "value"]
        _fuzz_forms(fuzz_client, rule, path, names)
        clock.freeze(None)


def test_every_post_route_survives_random_json(app, fuzz_client):
    for rule, path in _post_routes(app):
        _fuzz_json(fuzz_client, rule, path)
        raw = fuzz_client.post(path, data=b"{not json", content_type="application/json")
        assert raw.status_code < 500, rule
