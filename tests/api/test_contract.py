"""The OpenAPI document is the contract: schemathesis fuzzes every operation against it."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from portal.api.schemas import SCHEMAS
from tests.api.conftest import capture

# On PostgreSQL alone, the stricter of the two with what fuzzing sends (NUL characters,
# integers past 32 bits): where bad input would most likely become a 500.
pytestmark = pytest.mark.one_database("postgresql")

EXAMPLES = 25  # per operation: enough to find a 500, small enough for every test run
# The fuzzing tests run derandomised (the same examples every run: CI is stable) and on one
# database: they check the handling of input, which the database plays no part in.


def test_the_document_is_openapi_3_1_and_names_every_route(client, app):
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


def test_the_reference_page_describes_every_endpoint(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for path in ("/api/v1/consents/lookup", "/api/v1/events", "/api/v1/webhooks"):
        assert path in html
    assert "Portal-Signature" in html
    assert "<script>" not in html and 'style="' not in html


@pytest.mark.filterwarnings("ignore")
def test_schemathesis_finds_no_server_error_and_every_answer_matches(app, api):
    app.config["RATELIMIT_API"] = "100000 per minute"
    api.post("/consents", json=capture())  # something to find: a subject, an event
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {api.key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 23
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            # Schema-valid bodies may still name a brand or topic the group does not have: that
            # 422 is the documented answer, so "valid data must be accepted" does not apply.
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        run()


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
