"""Whatever body or encoding reaches a form, the answer is never a 500.

Over real HTTP (``tests.http``), for every form route of the URL map, signed in as a person
of the preference centre (the console's routes answer its login page first, which reads no
body). Odd encodings, broken multipart and chunked bodies, including one past
MAX_CONTENT_LENGTH.
"""

import pytest

from tests.actions import sign_in, subscribed
from tests.http import send, served

MAX = 8192
FORM = "application/x-www-form-urlencoded"
BODIES = {
    "invalid utf-8": (b"email=%FF%FE%00&topics=1", FORM),
    "raw invalid utf-8": (b"email=\xff\xfe\x00", FORM),
    "latin-1 charset": (
        "email=jürgen@bücher.example".encode("latin-1"),
        FORM + "; charset=latin-1",
    ),
    "utf-16 charset": ("email=a@b.c".encode("utf-16"), FORM + "; charset=utf-16"),
    "broken multipart": (b"--x\r\nContent-Disposition: form-data\r\n\r\n", "multipart/form-data"),
    "multipart without end": (
        b'--x\r\nContent-Disposition: form-data; name="email"\r\n\r\nann@example.org',
        "multipart/form-data; boundary=x",
    ),
    "json to a form": (b'{"email": [[[[[[]]]]]]}', "application/json"),
    "deep brackets": (b"a" + b"[" * 2000 + b"=1", FORM),
    "many fields": (b"&".join(b"f%d=1" % i for i in range(1000)), FORM),
    "odd content type": (b"email=a", 'text/plain; charset="'),
    "too large": (b"email=" + b"a" * (MAX + 10), FORM),
}
CHUNKED = ("invalid utf-8", "multipart without end", "too large")
# Input handling only: the database plays no part, so one is enough.
pytestmark = pytest.mark.one_database()  # the database plays no part in how bodies are read


@pytest.fixture
def person_cookie(app, client, demo, smtp):
    app.config["MAX_CONTENT_LENGTH"] = MAX
    subscribed(client, smtp, "ann@example.org")
    sign_in(client, smtp, "ann@example.org")
    cookie = client.get_cookie("__Host-session") or client.get_cookie("session")
    assert cookie is not None
    return f"{cookie.key}={cookie.value}"


def _form_routes(app):
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and not rule.endpoint.startswith("api."):
            values = {"group": "luxe", "brand": "camille", "channel": "email", "name": "last_name"}
            values |= {a: "1" for a in rule.arguments if a not in values}
            yield rule.build(values, append_unknown=False)[1]


def test_no_form_body_or_encoding_gets_a_server_error(app, person_cookie):
    app.config["WTF_CSRF_ENABLED"] = False  # reach the view's own reading of the body
    failures = []
    with served(app) as port:
        for path in sorted(_form_routes(app)):
            for name, (body, content_type) in BODIES.items():
                for chunked in (False, True) if name in CHUNKED else (False,):
                    headers = {"Content-Type": content_type, "Cookie": person_cookie}
                    answer = send(port, "POST", path, body, headers, chunked=chunked)
                    if answer.status >= 500:
                        failures.append((path, name, chunked, answer.status))
    assert failures == [], failures
