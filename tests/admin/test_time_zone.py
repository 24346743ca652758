"""Dates in the reader's time zone: an admin's choice in My account, else the browser's (the
cookie static/timezone.js sets, checked against the machine's zones), else the portal's;
the zone shown is always named."""

import re
from datetime import UTC, datetime

import pytest
from flask_babel import refresh

from portal.core.kernel import clock
from tests.actions import log_in, post, sign_in, subscribed
from tests.factories import make_admin

MOMENT = datetime(2026, 12, 1, 13, 26, tzinfo=UTC)
TIME_TAG = re.compile(r"</?time[^>]*>")


@pytest.fixture
def frozen():
    """Freezes the clock when called (after signing in: the two-factor code is of now)."""
    yield lambda: clock.freeze(MOMENT)
    clock.freeze(None)


def _get(client, path: str) -> str:
    """The page as a reader without JavaScript sees it (each date's <time> element dropped:
    only timezone.js reads it, on a first page)."""
    refresh()  # the test's app context outlives requests: forget the zone of the last one
    return TIME_TAG.sub("", client.get(path).get_data(as_text=True))


def _account(client) -> str:
    return _get(client, "/admin/account")


def test_an_admin_reads_dates_in_the_portal_zone_until_choosing_one(client, demo, frozen):
    log_in(client, make_admin(demo, "viewer", "viewer@luxe.example"))
    frozen()
    assert "Now: Dec 1, 2026, 1:26\u202fPM UTC." in _account(client)
    answer = post(client, "/admin/account/time-zone", {"time_zone": "Asia/Tokyo"})
    assert answer.status_code == 302
    page = _get(client, answer.headers["Location"])
    assert "Your time zone is saved" in page
    assert "Now: Dec 1, 2026, 10:26\u202fPM GMT+09:00." in page
    assert '<option selected value="Asia/Tokyo">' in page
    # Back to automatic: the portal's zone again.
    post(client, "/admin/account/time-zone", {"time_zone": ""})
    assert "Now: Dec 1, 2026, 1:26\u202fPM UTC." in _account(client)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "x" * 200])
def test_a_zone_not_in_the_list_is_refused_in_the_form(client, demo, zone):
    log_in(client, make_admin(demo, "viewer", "viewer@luxe.example"))
    answer = post(client, "/admin/account/time-zone", {"time_zone": zone})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert '<a href="#f-time_zone">Time zone: Choose a time zone from the list.</a>' in page
    assert 'id="f-time_zone-error"' in page


def test_the_browser_zone_is_used_when_the_admin_chose_none(client, demo, frozen):
    log_in(client, make_admin(demo, "viewer", "viewer@luxe.example"))
    frozen()
    client.set_cookie("tz", "America/New_York")
    assert "Now: Dec 1, 2026, 8:26\u202fAM EST." in _account(client)
    post(client, "/admin/account/time-zone", {"time_zone": "Asia/Tokyo"})
    assert "10:26\u202fPM GMT+09:00" in _account(client)  # the admin's own choice wins


@pytest.mark.parametrize("cookie", ["Mars/Olympus", "../../../etc/passwd", "", "UTC; x"])
def test_a_browser_zone_the_machine_does_not_know_is_ignored(client, demo, frozen, cookie):
    log_in(client, make_admin(demo, "viewer", "viewer@luxe.example"))
    frozen()
    client.set_cookie("tz", cookie)
    assert "Now: Dec 1, 2026, 1:26\u202fPM UTC." in _account(client)


def test_my_data_shows_its_dates_in_the_browser_zone_named(client, demo, smtp):
    subscribed(client, smtp, "ann@example.com")
    sign_in(client, smtp, "ann@example.com")
    client.set_cookie("tz", "Asia/Tokyo")
    page = _get(client, "/luxe/my-data/")
    assert "GMT+09:00" in page and " UTC<" not in page
    client.delete_cookie("tz")
    page = _get(client, "/luxe/my-data/")
    assert " UTC<" in page and "GMT+09:00" not in page


def test_each_date_carries_its_moment_in_utc_for_the_browser(client, demo, frozen):
    """The first page a browser opens is in the portal's zone; timezone.js rewrites each date
    from its UTC moment in the browser's zone (tests/browser), unless the admin chose one."""
    log_in(client, make_admin(demo, "viewer", "viewer@luxe.example"))
    frozen()
    refresh()
    page = client.get("/admin/account").get_data(as_text=True)
    assert (
        '<time datetime="2026-12-01T13:26:00Z" data-moment>Dec 1, 2026, 1:26\u202fPM UTC</time>'
        in page
    )
    assert 'data-time-zone="chosen"' not in page
    post(client, "/admin/account/time-zone", {"time_zone": "Asia/Tokyo"})
    assert 'data-time-zone="chosen"' in _get(client, "/admin/account")
