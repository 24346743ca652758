"""Normalising an address: the fast path for plain addresses answers as the validator does."""

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.core.kernel.errors import InvalidInput
from portal.core.people import subjects

pytestmark = pytest.mark.one_database("sqlite")  # no database: the app for its configuration


def _by_the_validator(value: str) -> str | None:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def _ours(value: str) -> str | None:
    try:
        return subjects.normalise_email(value)
    except InvalidInput:
        return None


LABEL = st.from_regex(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,4}[a-zA-Z0-9])?", fullmatch=True)
PLAIN = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join(labels)}.{tld}",
    st.from_regex(
        r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,70}(?:\.[a-z0-9_-]{1,10}){0,2}", fullmatch=True
    ),
    st.lists(
        LABEL | st.sampled_from(["xn--bcher-kva", "ab--cd", "test", "local", "A" * 64]),
        min_size=1,
        max_size=3,
    ),
    st.sampled_from(
        ["org", "COM", "test", "localhost", "invalid", "onion", "arpa", "example", "x1"]
    ),
)


@given(PLAIN)
@settings(
    max_examples=400,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_plain_addresses_are_taken_or_refused_as_the_validator_does(app, address):
    assert _ours(address) == _by_the_validator(address)


@pytest.mark.parametrize(
    "address",
    [
        "Ada.Lovelace@Example.ORG",
        " ada@example.org ",
        "a@b.test",
        "a@localhost",
        "x@xn--bcher-kva.example",
        "ab@ab--cd.example",
        f"{'a' * 65}@example.org",
        f"a@{'b' * 64}.org",
        "a..b@example.org",
        "a@-example.org",
    ],
)
def test_edge_cases_answer_as_the_validator_does(app, address):
    assert _ours(address) == _by_the_validator(address)
