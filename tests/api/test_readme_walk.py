"""The README's complete integration, run as a CRM would copy it: a token, discovery, a bulk
write, the feed, and a webhook checked with the README's own ``verify``.

The code is taken from the README itself, so the page and the API cannot drift apart.
"""

import json
import re
from pathlib import Path

import httpx
import pytest

from portal.core.integrations import pinned, webhooks
from tests.api.test_webhooks import Receiver

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title: str) -> str:
    return README.read_text().split(f"### {title}", 1)[1].split("\n### ", 1)[0]


def _readme_code() -> dict:
    """The walk's blocks and the verification block, run as one module would be."""
    blocks = re.findall(r"```python\n(.*?)```", _section("Verifying a webhook"), re.S)
    blocks += re.findall(r"```python\n(.*?)```", _section("A complete integration"), re.S)
    assert len(blocks) == 3
    namespace: dict = {}
    exec(compile("\n".join(blocks), str(README), "exec"), namespace)  # noqa: S102 - our README
    return namespace


@pytest.fixture
def receiver(app):
    app.config["WEBHOOKS_ALLOW_INSECURE"] = True
    server = Receiver()
    server.start()
    yield server
    server.stop()
    pinned.close()


def test_the_readme_walk_runs_against_the_portal(app, api, receiver):
    code = _readme_code()
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url="http://localhost/api/v1") as client:
        key = api.key
        results, events, cursor, endpoint, secret = code["walk"](
            client, str(api.id), key, receiver.url
        )
        assert client.headers["Authorization"].startswith("Bearer ey")  # the token, not the key
        [result] = results
        assert result["result"] == "applied" and result["topic"] and result["receipt"]
        assert [e["data"]["subject_id"] for e in events][-1] == result["subject_id"]
        # The stored cursor goes on from there: nothing new yet, then only what is new.
        assert code["read_feed"](client, cursor)[0] == []
        version = code["discover"](client, "camille")[1]
        code["write_in_bulk"](client, "camille", [("bo@example.org", "news", "sms")], version)
        later, _ = code["read_feed"](client, cursor)
        assert [e["data"]["channel"] for e in later] == ["sms"]

    # The webhook: delivered by the worker to a receiver that checks it with the README's code.
    seen: set = set()
    receiver.secret = secret  # its own check too, beside the README's
    receiver.verify_with = lambda headers, body: code["receive"](secret, headers, body, seen)
    assert webhooks.deliver_all().sent == 1
    [(status, headers, body)] = receiver.received
    assert status == 200 and seen == {headers["Portal-Event-Id"]}
    assert json.loads(body)["data"]["channel"] == "sms"
    assert code["receive"]("whsec_other", headers, body, seen) == 401
