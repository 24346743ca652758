"""The API accepts only addresses the portal can mail (see tests/mail/test_addresses.py)."""

from tests.api.conftest import capture
from tests.mail.test_addresses import REFUSED


def test_the_api_refuses_it_too_with_a_clear_message(api):
    answer = api.post("/consents", json=capture(email="jürgen@bücher.example"))
    assert answer.status_code == 422
    assert answer.json["errors"][0]["field"] == "email"
    assert REFUSED in answer.json["errors"][0]["message"]
    assert api.post("/consents", json=capture(email="ann@bücher.example")).status_code == 200
