"""Rate limits: no inbox bombing through the sign-up form."""

from datetime import timedelta

from portal.core.kernel import clock
from tests.actions import deliver, sign_up


def test_at_most_three_confirmation_mails_per_address_per_hour(client, demo, smtp):
    start = clock.now()
    for minutes in range(3):
        # Minutes apart: the same sign-up within SIGNUP_REPEAT_SECONDS is one (a double click).
        clock.freeze(start + timedelta(minutes=2 * minutes))
        assert sign_up(client, "bomb@example.com").status_code == 200
    limited = sign_up(client, "Bomb@Example.com")
    assert limited.status_code == 429
    assert "Too many requests" in limited.get_data(as_text=True)
    assert limited.headers["Retry-After"]
    assert sign_up(client, "other@example.com").status_code == 200
    deliver()
    assert len(smtp.to("bomb@example.com")) == 3


def test_per_ip_limit(app, client, demo):
    app.config["RATELIMIT_SIGNUP_IP"] = "2 per minute"
    assert sign_up(client, "a@example.com").status_code == 200
    assert sign_up(client, "b@example.com").status_code == 200
    limited = sign_up(client, "c@example.com")
    assert limited.status_code == 429
    assert "Too many requests" in limited.get_data(as_text=True)
