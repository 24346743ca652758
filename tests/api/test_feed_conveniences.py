"""The feed from a moment, walked by its Link headers; RateLimit headers on every answer."""

import itertools
import time
import uuid
from datetime import timedelta
from urllib.parse import quote

import pytest
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from portal.core.kernel import clock
from portal.extensions import KnownWindow, limiter
from tests.api.conftest import NOW, capture

LATER = NOW + timedelta(hours=2)
PEOPLE = itertools.count()


def write_events(api, moment, count, topic="news"):
    """``count`` grants by as many people at ``moment``; their subject ids, in order."""
    clock.freeze(moment)
    written = []
    for _ in range(count):
        email = f"p{next(PEOPLE)}@example.org"
        answer = api.post("/consents", json=capture(topic=topic, email=email))
        assert answer.status_code == 200, answer.json
        written.append(answer.json["subject_id"])
    return written


def people(events):
    return [e["data"]["subject_id"] for e in events]


def since(moment) -> str:
    return quote(moment.isoformat())  # the '+' of the offset as %2B


def test_the_feed_starts_at_the_first_event_at_or_after_a_moment(api):
    write_events(api, NOW, 2)
    later = write_events(api, LATER, 1)
    page = api.get(f"/events?since={since(LATER)}")
    assert page.status_code == 200
    assert people(page.json["events"]) == later
    # Its next_cursor goes on like any other: only what comes after.
    last = write_events(api, LATER + timedelta(minutes=1), 1)
    rest = api.get(f"/events?after={page.json['next_cursor']}").json["events"]
    assert people(rest) == last


def test_a_moment_in_the_past_gives_everything_and_in_the_future_nothing_yet(api):
    written = write_events(api, NOW, 2)
    past = api.get("/events?since=2001-01-01t00:00:00z").json  # RFC 3339 allows lower case
    assert people(past["events"]) == written
    future = api.get(f"/events?since={since(NOW + timedelta(days=30))}").json
    assert future["events"] == [] and future["has_more"] is False
    # The future's cursor is the end of the feed now: never a replay of the start.
    later = write_events(api, NOW + timedelta(minutes=5), 1)
    after = api.get(f"/events?after={future['next_cursor']}").json["events"]
    assert people(after) == later


def test_an_event_numbered_after_an_older_one_is_never_skipped(api):
    """Servers' clocks differ: an event may carry an earlier time than one numbered before it.
    Starting from a moment gives every event at or after it (the older one too: at least
    once), never a gap."""
    late_clock = write_events(api, LATER, 1)
    early_clock = write_events(api, NOW, 1)
    page = api.get(f"/events?since={since(LATER - timedelta(minutes=1))}").json
    assert people(page["events"]) == late_clock + early_clock


def test_a_moment_in_another_offset_means_the_same_instant(api):
    write_events(api, NOW, 1)
    later = write_events(api, LATER, 1)
    answer = api.get("/events?since=" + quote("2025-03-01T15:00:00+01:00"))  # 14:00 UTC
    assert people(answer.json["events"]) == later


def test_a_malformed_moment_is_a_clear_400(api):
    for query in (
        "since=yesterday",
        "since=2025-03-01T12:00:00",  # no offset: which 12:00?
        "since=2025-03-01T12:00:00 01:00",  # a '+' sent unencoded
        "since=",
        "since=0001-01-01T00:00:00%2B01:00",  # before year 1 in UTC
    ):
        answer = api.get(f"/events?{query}")
        assert answer.status_code == 400, query
        assert answer.mimetype == "application/problem+json"
        assert answer.json["errors"][0]["field"] == "since"
        assert "since" in answer.json["detail"]


def test_a_cursor_and_a_moment_together_start_at_the_later_of_the_two(api):
    """Both are schema-valid together, so both are answered: neither bound is crossed."""
    first = write_events(api, NOW, 2)
    cursor_after_first = api.get("/events?limit=1").json["next_cursor"]
    later = write_events(api, LATER, 1)
    # The moment is later than the cursor: from the moment.
    page = api.get(f"/events?after={cursor_after_first}&since={since(LATER)}").json
    assert people(page["events"]) == later
    # The cursor is later than the moment: from the cursor.
    page = api.get(f"/events?after={cursor_after_first}&since=2001-01-01T00:00:00Z").json
    assert people(page["events"]) == first[1:] + later


def test_link_headers_walk_the_feed_to_its_end(api):
    written = write_events(api, NOW, 5)
    url, seen, pages = "/api/v1/events?limit=2", [], 0
    while url:
        page = api.client.get(url, headers=api.headers())
        assert page.status_code == 200
        seen += people(page.json["events"])
        pages += 1
        link = page.headers.get("Link")
        assert (link is not None) == page.json["has_more"]
        url = link[1 : link.index(">")] if link else None
        if link:
            assert link.endswith('; rel="next"') and "limit=2" in url
            assert url.startswith("http://")
    assert seen == written
    assert pages == 3


def test_every_api_answer_carries_the_rate_limit_headers(app, api):
    app.config["RATELIMIT_API"] = "5 per minute"
    first = api.get("/brands")
    assert first.headers["RateLimit-Limit"] == "5"
    assert first.headers["RateLimit-Remaining"] == "4"
    assert 0 < int(first.headers["RateLimit-Reset"]) <= 60
    assert first.headers["RateLimit-Policy"] == "5;w=60"
    not_modified = api.get("/brands", headers={"If-None-Match": first.headers["ETag"]})
    assert not_modified.status_code == 304
    assert not_modified.headers["RateLimit-Remaining"] == "3"
    # Each endpoint has its own window (Flask-Limiter scopes a blueprint's limit by endpoint).
    assert api.post("/consents", json=capture()).headers["RateLimit-Remaining"] == "4"
    assert api.get("/events?since=never").headers["RateLimit-Remaining"] == "4"
    remaining = [api.get("/events").headers["RateLimit-Remaining"] for _ in range(4)]
    assert remaining == ["3", "2", "1", "0"]
    refused = api.get("/events")
    assert refused.status_code == 429
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert int(refused.headers["Retry-After"]) > 0
    # Without a key the limit counts per address, and says so too.
    anonymous = api.client.get("/api/v1/brands")
    assert anonymous.status_code == 401
    assert anonymous.headers["RateLimit-Remaining"] == "4"


def test_the_headers_cost_no_storage_round_trip(app, api, monkeypatch):
    app.config["RATELIMIT_API"] = "100 per minute"

    def asked(*args):
        raise AssertionError("the rate-limit storage was asked again")

    # A hit is one increment; reading the window back (limits' get_window_stats) would be a
    # get() and a get_expiry() of the storage: two more Redis round trips.
    monkeypatch.setattr(FixedWindowRateLimiter, "get_window_stats", asked)
    monkeypatch.setattr(limiter.storage, "get_expiry", asked)
    remaining = [int(api.get("/brands").headers["RateLimit-Remaining"]) for _ in range(3)]
    assert remaining == [99, 98, 97]


@pytest.fixture(params=["memory://", "redis://127.0.0.1:6379"])
def storage(request):
    """Both storages the portal runs on (README: RATELIMIT_STORAGE_URI)."""
    storage = storage_from_string(request.param, key_prefix=f"test-window-{uuid.uuid4().hex}")
    yield storage
    storage.reset()


def test_a_process_that_did_not_open_the_window_asks_for_its_end_once(storage):
    item = parse("10 per minute")
    this, other = KnownWindow(storage), KnownWindow(storage)
    asked = []
    for name in ("get", "get_expiry"):
        method = getattr(storage, name)
        setattr(storage, name, lambda key, m=method, n=name: asked.append(n) or m(key))
    assert this.hit(item, "client")  # opens the window: its end is known here
    assert other.hit(item, "client") and other.hit(item, "client")  # asks once, then knows
    assert this.hit(item, "client")
    # Outside a request nothing is remembered for headers: read back as limits would.
    reset, remaining = this.get_window_stats(item, "client")
    assert remaining == 6 and 55 < reset - time.time() <= 61
    if storage.__class__.__name__ != "MemoryStorage":  # memory's incr uses its own get()
        assert asked == ["get_expiry", "get", "get_expiry"]
    else:
        assert asked.count("get_expiry") == 2
