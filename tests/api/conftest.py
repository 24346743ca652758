"""API fixtures: keys made through the core, and a JSON client that sends them."""

from datetime import UTC, date, datetime

import pytest

from portal.core.integrations import clients
from portal.core.integrations.models.api import SCOPES

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TERMS = "Processes subscribers' data for the group's marketing only; erases it when asked."


class Api:
    """The Flask test client, speaking JSON with one key."""

    def __init__(self, client, key):
        self.client, self.key = client, key

    def headers(self, extra=None):
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        headers.update(extra or {})
        return headers

    def get(self, path, **kwargs):
        return self.client.get(
            "/api/v1" + path, headers=self.headers(kwargs.pop("headers", None)), **kwargs
        )

    def post(self, path, json=None, **kwargs):
        return self.client.post(
            "/api/v1" + path, json=json, headers=self.headers(kwargs.pop("headers", None)), **kwargs
        )

    def put(self, path, json=None, **kwargs):
        return self.client.put(
            "/api/v1" + path, json=json, headers=self.headers(kwargs.pop("headers", None)), **kwargs
        )

    def patch(self, path, json=None, **kwargs):
        return self.client.patch(
            "/api/v1" + path, json=json, headers=self.headers(kwargs.pop("headers", None)), **kwargs
        )

    def delete(self, path, **kwargs):
        return self.client.delete(
            "/api/v1" + path, headers=self.headers(kwargs.pop("headers", None)), **kwargs
        )


SET_UP = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def demo(demo):
    """The demo group, set up (created_at) before the captures these tests send: a capture from
    before its group existed is refused."""
    from portal.core.kernel.transaction import commit_session

    demo.created_at = SET_UP
    commit_session()
    return demo


@pytest.fixture
def make_api(client, demo):
    """make_api(scopes=..., brands=[slugs], verified=False, group="luxe", terms=True) -> Api.

    ``terms``: the client accepted processing terms, so it receives personal data."""

    def make(scopes=SCOPES, brands=None, verified=False, group="luxe", name="CRM", terms=True):
        accepted = (TERMS, date(2025, 1, 15)) if terms else None
        made, key = clients.create(group, name, list(scopes), brands, verified, terms=accepted)
        api = Api(client, key)
        api.id = made.id
        return api

    return make


@pytest.fixture
def api(make_api):
    """A client of the demo group with every scope and every brand."""
    return make_api()


def capture(**overrides) -> dict:
    """A recorded consent, as a call-centre system would send it."""
    body = {
        "email": "ada@example.org",
        "brand": "camille",
        "topic": "events",
        "channel": "sms",
        "action": "grant",
        "captured_at": "2025-03-01T11:55:00+00:00",
        "evidence": {"agent": "agent-42", "recording": "rec-2025-0301-0007"},
        "text_version": 1,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}
