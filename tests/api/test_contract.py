"""The OpenAPI document is the contract: it is assembled from the operations the views declare,
and schemathesis holds the API to it with every check, positive and negative data, and the
document's links followed from one answer to the next."""

import ipaddress
import string
from urllib.parse import urlsplit

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER
from schemathesis.specs.openapi.formats import get_default_format_strategies

from portal.api import io
from portal.api.schemas import SCHEMAS
from portal.core.integrations import cursors
from tests.api.conftest import capture

# The runs are derandomised (the same examples every run: CI is stable) and bounded (under a
# minute each). The positive and negative run goes on each database: what a body becomes in
# storage differs. The stateful run and the bytes run go on PostgreSQL alone, the stricter of
# the two with what fuzzing sends (NUL characters, integers past 32 bits): they check the
# sequence of operations and the reading of bodies, which the database plays no part in, and a
# second run would double the suite's slowest minute for nothing.
ONE_DATABASE = pytest.mark.one_database("postgresql")

EXAMPLES = 12  # per operation and kind of data: enough to find a refusal, small enough for CI
STATEFUL_EXAMPLES = 8

# Values whose validity is not a matter of shape but of what this deployment or the world holds:
# the group's brands and topics (a client learns them from GET /topics), the versions of the
# brand's consent text (GET /consent-texts), the life of the group (captured_at), the numbering
# plan of a mobile number, the Unicode categories a name may use. Schema-valid requests are
# sent with them, as a client that discovered them would; everything else is generated.
DISCOVERED = {
    "brand": "camille",
    "topic": "events",
    "channel": "email",
    "text_version": 1,
    "captured_at": "2025-03-01T11:55:00+00:00",
    "mobile_number": "+33 6 12 34 56 78",
    "first_name": "Ada",
    "last_name": "Lovelace",
}
# Addresses that can receive mail: the special-use names (RFC 6761: .test, .invalid, ...) are
# refused as undeliverable, rightly, whatever their shape.
LOCAL = st.text(string.ascii_lowercase + string.digits + "!#$%&'*+-/=?^_`{|}~", min_size=1)
DOMAIN = st.from_regex(r"[a-z0-9]{1,20}\.(?:com|org|net|fr|de)", fullmatch=True)
MAILABLE = st.builds("{}@{}".format, LOCAL.filter(lambda s: len(s) <= 64), DOMAIN)


PUBLIC = "93.184.215.14"


def _public(url: str) -> str:
    """``url`` with a public address where it names an address that is not: which addresses
    are public is the IANA registries' say (global unicast), not a pattern's."""
    parts = urlsplit(url)
    try:
        address = ipaddress.ip_address(parts.hostname or "")
    except ValueError:
        return url  # a name: the core accepts one that does not resolve yet
    if address.is_global and not address.is_multicast:
        return url
    return url.replace(parts.hostname, PUBLIC, 1)


def _discovered(ctx, case, **kwargs):
    """A schema-valid body carries the values a client discovers (see DISCOVERED)."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    if isinstance(case.body, dict):
        for name, value in DISCOVERED.items():
            if name in case.body:
                case.body[name] = value
        if isinstance(case.body.get("url"), str):
            case.body["url"] = _public(case.body["url"])


@pytest.fixture
def schema(app, api):
    app.config["RATELIMIT_API"] = "100000 per minute"
    api.post("/consents", json=capture())  # something to find: a subject, an event
    schemathesis.openapi.format("email", MAILABLE)
    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)

    @loaded.auth()
    class Bearer:
        def get(self, case, ctx):
            return api.key

        def set(self, case, data, ctx):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    schemathesis.hook("before_call")(_discovered)
    # Too many changes in one bulk request is answered 413 (documented), a rejection too.
    rejection = loaded.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    yield loaded
    GLOBAL_HOOK_DISPATCHER.unregister(_discovered)
    schemathesis.openapi.format("email", get_default_format_strategies()["email"])


def test_the_document_names_every_route_and_every_operation_is_declared(client, app):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"] == "3.1.0"
    documented = {
        (method.upper(), "/api/v1" + path.replace("{", "<").replace("}", ">"))
        for path, methods in document["paths"].items()
        for method in methods
    }
    routed = {
        (method, rule.rule.replace("<int:", "<"))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        and rule.endpoint not in ("api.openapi_json", "api.docs")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert documented == routed
    assert set(document["components"]["schemas"]) == set(SCHEMAS)


def _operations(document):
    for methods in document["paths"].values():
        yield from methods.values()


def test_every_operation_has_an_id_examples_documented_errors_and_valid_links(client):
    document = client.get("/api/v1/openapi.json").json
    operations = list(_operations(document))
    ids = [operation["operationId"] for operation in operations]
    assert len(ids) == len(set(ids)) == 25
    by_id = dict(zip(ids, operations, strict=True))
    linked = 0
    for operation in operations:
        responses = operation["responses"]
        success = [status for status in responses if status.startswith("2")]
        errors = [status for status in responses if status[0] in "45"]
        assert success and errors, operation["operationId"]
        for status in success[:1] + errors:
            (media,) = responses[status]["content"].values()
            assert "example" in media or "schema" in media, (operation["operationId"], status)
        assert "example" in next(iter(responses[success[0]]["content"].values()))
        for link in responses[success[0]].get("links", {}).values():
            target = by_id[link["operationId"]]
            names = {parameter["name"] for parameter in target["parameters"]}
            assert set(link["parameters"]) <= names
            linked += 1
    assert linked >= 14


def _validator(name):
    return jsonschema_rs.Draft202012Validator(io._resolved(SCHEMAS[name], SCHEMAS))


def test_every_example_matches_its_schema(client):
    document = client.get("/api/v1/openapi.json").json
    checked = 0
    for operation in _operations(document):
        bodies = [operation.get("requestBody", {})] + list(operation["responses"].values())
        for body in bodies:
            for media in body.get("content", {}).values():
                if "example" in media and "$ref" in media.get("schema", {}):
                    name = media["schema"]["$ref"].rsplit("/", 1)[1]
                    errors = [e.message for e in _validator(name).iter_errors(media["example"])]
                    assert not errors, (operation["operationId"], name, errors)
                    checked += 1
    assert checked > 50


def test_the_cursor_pattern_describes_every_cursor_and_no_other_string():
    import re

    pattern = re.compile(cursors.PATTERN)
    for seq in (0, 1, 9, 10, 99, 100, 12345, 10**17, 10**18 - 1):
        assert pattern.match(cursors.encode_legacy(seq)), seq
    for xid, id_ in ((0, 0), (0, 1), (7, 12345), (2**32 + 5, 10**12), (2**63 - 1, 2**63 - 1)):
        assert pattern.match(cursors.encode(xid, id_)), (xid, id_)
        assert cursors.decode(cursors.encode(xid, id_)) == (xid, id_)
    others = ("", "ZTE6", "ZTI6", "abc", cursors.encode_legacy(5) + "x", cursors.encode(1, 2)[:-1])
    for other in (*others, "ZTE6LTE"):  # ZTE6LTE: "e1:-1"
        assert not pattern.match(other), other


def test_the_reference_page_describes_every_endpoint(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for path in ("/api/v1/consents/lookup", "/api/v1/events", "/api/v1/webhooks"):
        assert path in html
    assert "Portal-Signature" in html
    assert "<script>" not in html and 'style="' not in html


@pytest.mark.filterwarnings("ignore")
def test_schemathesis_with_every_check_and_both_kinds_of_data_reports_nothing(schema):
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 25
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def run(case):
                case.call_and_validate()

            run()


@ONE_DATABASE
@pytest.mark.filterwarnings("ignore")
def test_schemathesis_following_the_links_reports_nothing(schema):
    schema.as_state_machine().run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )


@ONE_DATABASE
@given(st.binary(max_size=300))
@settings(
    max_examples=30,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_any_bytes_as_a_body_get_an_answer_not_a_crash(client_for_bytes, body):
    for path in ("/consents", "/consents/bulk", "/consents/check", "/consents/lookup", "/webhooks"):
        answer = client_for_bytes.post(
            path, data=body, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code in (400, 422), (path, body, answer.status_code)
        assert answer.mimetype == "application/problem+json"


@pytest.fixture
def client_for_bytes(api):
    return api
