"""The README's webhook verification example, run as a receiver would copy it.

The code is taken from the README itself, so the page and the test cannot drift apart.
"""

import re
import time
from pathlib import Path

import pytest

from portal.core.integrations import webhooks

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "whsec_test"
BODY = b'{"id":"evt_1","type":"consent.changed"}'
MALFORMED = [
    None,
    "",
    "garbage",
    "t=",
    "v1=abc",
    "t=abc,v1=abc",
    "t=1,v1",
    ",,,",
    "t=１７００００００００,v1=abc",  # digits int() reads, but not ASCII ones
    "t=1700000000,v1=é",  # compare_digest raises on non-ASCII text
    "t=99999999999999999999999999,v1=abc",
    "t=-1,v1=abc",
    "t=1e9,v1=abc",
    "t=1=2,v1=abc",
    "t=\x00,v1=\x00",
]


def _readme_verify():
    text = README.read_text()
    section = text.split("### Verifying a webhook", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - our own README
    return namespace["verify"]


@pytest.mark.parametrize("header", MALFORMED)
def test_the_readme_example_answers_false_to_a_malformed_header(header):
    assert _readme_verify()(SECRET, header, BODY) is False


@pytest.mark.parametrize("header", MALFORMED)
def test_the_reference_implementation_answers_false_too(header):
    assert webhooks.verify(SECRET, header, BODY, time.time()) is False


def test_the_readme_example_accepts_a_genuine_signature_only():
    verify = _readme_verify()
    header = webhooks.sign(SECRET, int(time.time()), BODY)
    assert verify(SECRET, header, BODY) is True
    assert verify(SECRET, header, BODY + b" ") is False
    assert verify("whsec_other", header, BODY) is False
    stale = webhooks.sign(SECRET, int(time.time()) - 301, BODY)
    assert verify(SECRET, stale, BODY) is False


def test_the_readme_example_accepts_either_secret_during_a_rotation():
    verify, now = _readme_verify(), int(time.time())
    new, old = webhooks.sign("whsec_new", now, BODY), webhooks.sign(SECRET, now, BODY)
    header = new + "," + old.split(",", 1)[1]  # t=…,v1=<new>,v1=<old>, as sent in the overlap
    assert verify("whsec_new", header, BODY) and verify(SECRET, header, BODY)
    assert not verify("whsec_other", header, BODY)
    assert not verify(SECRET, f"{header},t={now}", BODY)  # two timestamps: malformed
