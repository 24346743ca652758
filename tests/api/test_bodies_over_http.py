"""Whatever body, header or encoding a client sends, the API answers 4xx problem+json.

Over real HTTP (``tests.http``), against every API route taken from the URL map.
"""

import json

import pytest

from tests.api.conftest import capture
from tests.http import send, served

DEEP = 300  # 600 bytes: the validator's recursion limit was the first thing to give way
MAX_BODY = 4096


def _bodies():
    """name: (body, headers): bodies no route may accept."""
    valid = json.dumps({"email": "ada@example.org"}).encode()
    return {
        "nested arrays": (b"[" * DEEP + b"]" * DEEP, {}),
        "nested objects": (b'{"a":' * DEEP + b"1" + b"}" * DEEP, {}),
        "nested past the parser": (b"[" * 100_000 + b"]" * 100_000, {}),
        "utf-16": (valid.decode().encode("utf-16"), {}),
        "utf-16 without bom": (valid.decode().encode("utf-16-le"), {}),
        "byte order mark": (b"\xef\xbb\xbf" + valid, {}),
        "invalid utf-8": (b'{"email": "\xff\xfe@example.org"}', {}),
        "lone surrogate": (b'{"email": "\\ud800@example.org"}', {}),
        "nan": (b'{"email": NaN}', {}),
        "huge number": (b'{"email": ' + b"9" * 5000 + b"}", {}),
        "wrong charset": (valid, {"Content-Type": "application/json; charset=latin-1"}),
        "form as json": (b"email=a%40b.c", {"Content-Type": "application/x-www-form-urlencoded"}),
        "no content type": (valid, {"Content-Type": ""}),
        "truncated": (valid[:-3], {}),
        "empty": (b"", {}),
        "nul bytes": (b"\x00" * 64, {}),
    }


def _odd_headers():
    """name: (body, headers); the body may suit a route, only the headers are odd."""
    valid = json.dumps({"email": "ada@example.org"}).encode()
    return {
        "odd content type": (valid, {"Content-Type": 'application/json; charset="; boundary=;'}),
        "huge authorization": (valid, {"Authorization": "Bearer " + "k" * 7000}),
        "latin-1 authorization": (valid, {"Authorization": "Bearer k\xe9y"}),
        "basic authorization": (valid, {"Authorization": "Basic YTpi"}),
        "huge idempotency key": (valid, {"Idempotency-Key": "x" * 7000}),
        "control idempotency key": (valid, {"Idempotency-Key": "a\x7fb"}),
        "huge accept-language": (valid, {"Accept-Language": "de;q=0.5," * 700}),
        "huge cookie": (valid, {"Cookie": "session=" + "A" * 7000}),
    }


def _api_routes(app):
    values = {
        "subject_id": 1,
        "endpoint_id": 1,
        "delivery_id": 1,
        "request_id": "1",
        "external_id": "CRM-1",
    }
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or rule.endpoint in ("api.docs",):
            continue
        path = rule.build({a: values[a] for a in rule.arguments}, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path


@pytest.fixture
def port(app, api):
    app.config["API_MAX_BODY"] = MAX_BODY
    app.config["RATELIMIT_ENABLED"] = False
    with served(app) as port:
        yield port


def _headers(api, extra):
    headers = {"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"}
    headers.update(extra)
    return {name: value for name, value in headers.items() if value}


def _error_document(path, answer) -> bool:
    """A problem document; the OAuth token endpoint answers RFC 6749's own errors (section
    5.2), which client libraries read, unless the refusal came before it (413, 429)."""
    if answer.content_type == "application/problem+json":
        return True
    if path != "/api/v1/oauth/token" or answer.content_type != "application/json":
        return False
    return isinstance(json.loads(answer.body).get("error"), str)


def test_no_body_header_or_encoding_gets_a_server_error(app, api, port):
    routes = list(_api_routes(app))
    assert ("POST", "/api/v1/consents") in routes and ("DELETE", "/api/v1/webhooks/1") in routes
    failures = []
    for method, path in routes:
        for name, (body, extra) in (_bodies() | _odd_headers()).items():
            for chunked in (False, True):
                answer = send(port, method, path, body, _headers(api, extra), chunked=chunked)
                refused = method in ("POST", "PUT", "PATCH") and name in _bodies()
                if answer.status >= 500 or (refused and not 400 <= answer.status < 500):
                    failures.append((method, path, name, chunked, answer.status))
                elif answer.status >= 400 and not _error_document(path, answer):
                    failures.append((method, path, name, chunked, answer.content_type))
    assert failures == [], failures


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_413_however_it_is_sent(api, port, chunked):
    body = b'{"email": "' + b"a" * MAX_BODY + b'@example.org"}'
    answer = send(port, "POST", "/api/v1/consents/check", body, _headers(api, {}), chunked)
    assert answer.status == 413
    assert answer.content_type == "application/problem+json"
    assert json.loads(answer.body)["detail"] == f"The body may be at most {MAX_BODY} bytes."


def test_a_chunked_body_within_the_limit_is_read_whole(api, port):
    evidence = {name: "a" * 480 for name in ("agent", "recording", "document", "store", "note")}
    body = json.dumps(capture(evidence=evidence)).encode()
    assert MAX_BODY // 2 < len(body) <= MAX_BODY
    answer = send(port, "POST", "/api/v1/consents", body, _headers(api, {}), chunked=True)
    assert answer.status == 200, answer.body
    assert json.loads(answer.body)["state"] == "granted"


def test_deep_and_oddly_encoded_bodies_say_what_is_wrong(api, port):
    def detail(body, **extra):
        answer = send(port, "POST", "/api/v1/consents/check", body, _headers(api, extra))
        assert answer.status in (400, 415), answer.status
        return json.loads(answer.body)["detail"]

    assert detail(b"[" * DEEP + b"]" * DEEP) == "The body nests more than 32 levels deep."
    assert "UTF-8 without a byte order mark" in detail(b"\xef\xbb\xbf{}")
    assert "UTF-8" in detail(b"{}", **{"Content-Type": "application/json; charset=utf-16"})
    assert detail(b'{"a": NaN}') == "The body is not valid JSON in UTF-8."
