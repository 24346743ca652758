"""What a passkey answer must not get away with: a replay, another origin, an old counter, a
challenge from another session or gone stale, garbage, or another person's passkey."""

from datetime import timedelta

import pytest

from portal.core.kernel import clock
from portal.core.people import access, subjects
from portal.core.people.models.passkey import Passkey, PasskeyChallenge
from portal.extensions import db
from tests.actions import subscribed
from tests.core.test_isolation import make_group
from tests.passkeys.authenticator import Authenticator
from tests.passkeys.helpers import (
    BASE,
    add_passkey,
    post_json,
    send_assertion,
    sign_in_options,
    sign_in_with,
    sign_out,
)
from tests.selfservice.helpers import signed_in

ADDRESS = "keyholder@example.com"


@pytest.fixture
def authenticator(client, smtp, demo):
    """A person with one passkey, signed out again."""
    signed_in(client, smtp, ADDRESS)
    device = Authenticator()
    assert add_passkey(client, device).status_code == 200
    sign_out(client)
    return device


def _signed_in(client) -> bool:
    return client.get("/luxe/my-data/").status_code == 200


def test_a_replayed_assertion_is_refused(client, authenticator):
    credential = authenticator.get(sign_in_options(client))
    assert send_assertion(client, credential).status_code == 200
    sign_out(client)
    again = send_assertion(client, credential)  # the same answer, its challenge spent
    assert again.status_code == 400
    assert "expired" in again.get_json()["detail"]
    sign_in_options(client)  # a new challenge does not revive the old answer
    assert send_assertion(client, credential).status_code == 400
    assert not _signed_in(client)


def test_an_assertion_made_for_another_origin_is_refused(client, authenticator):
    refused = sign_in_with(client, authenticator, origin="https://evil.example")
    assert refused.status_code == 400
    assert "could not be checked" in refused.get_json()["detail"]
    assert not _signed_in(client)


def test_a_registration_made_for_another_origin_is_refused(client, smtp, demo):
    signed_in(client, smtp, "elsewhere@example.com")
    refused = add_passkey(client, Authenticator(), origin="https://evil.example")
    assert refused.status_code == 400
    assert db.session.query(Passkey).count() == 0


def test_a_sign_counter_that_does_not_move_forward_is_refused(client, authenticator):
    assert sign_in_with(client, authenticator, counter=5).status_code == 200
    sign_out(client)
    cloned = sign_in_with(client, authenticator, counter=5)  # a copy of the key, or a replay
    assert cloned.status_code == 400
    assert sign_in_with(client, authenticator, counter=3).status_code == 400
    assert not _signed_in(client)
    assert sign_in_with(client, authenticator, counter=6).status_code == 200
    sign_out(client)
    # The counter is an unsigned 32-bit number: high values are kept whole on both databases.
    assert sign_in_with(client, authenticator, counter=4_000_000_000).status_code == 200
    sign_out(client)
    assert sign_in_with(client, authenticator, counter=3_999_999_999).status_code == 400
    assert sign_in_with(client, authenticator, counter=2**32 - 1).status_code == 200


def test_a_challenge_belongs_to_the_session_that_asked_for_it(app, client, authenticator):
    options = sign_in_options(client)
    stranger = app.test_client()
    answer = send_assertion(stranger, authenticator.get(options))
    assert answer.status_code == 400
    assert client.get("/luxe/my-data/").status_code == 302
    assert stranger.get("/luxe/my-data/").status_code == 302


def test_a_challenge_goes_stale_after_five_minutes(client, authenticator):
    options = sign_in_options(client)
    clock.freeze(clock.now() + timedelta(minutes=6))
    answer = send_assertion(client, authenticator.get(options))
    assert answer.status_code == 400
    assert "expired" in answer.get_json()["detail"]


def test_every_challenge_is_spent_once_answered(client, authenticator):
    sign_in_with(client, authenticator, origin="https://evil.example")  # refused, but spent
    sign_in_with(client, authenticator)
    assert db.session.query(PasskeyChallenge).count() == 0


@pytest.mark.parametrize(
    "credential",
    [None, "", [], {"rawId": 5}, {"rawId": "!!"}, {"id": "x", "rawId": "AAAA", "response": {}}],
)
def test_garbage_is_refused_clearly(client, authenticator, credential):
    sign_in_options(client)
    answer = send_assertion(client, credential)
    assert answer.status_code in (400, 404)
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["detail"]


def test_a_broken_answer_from_the_right_device_is_refused(client, authenticator):
    credential = authenticator.get(sign_in_options(client))
    credential["response"]["signature"] = credential["response"]["signature"][::-1]
    assert send_assertion(client, credential).status_code == 400
    credential = authenticator.get(sign_in_options(client))
    credential["response"]["authenticatorData"] = "AAAA"
    assert send_assertion(client, credential).status_code == 400
    assert not _signed_in(client)


def test_no_options_asked_for_means_nothing_to_answer(client, authenticator):
    fake = authenticator.get({"challenge": "AAAAAAAAAAAAAAAAAAAAAA"})
    answer = send_assertion(client, fake)
    assert answer.status_code == 400


def test_a_passkey_works_only_in_its_own_site_group(client, authenticator):
    make_group("other")  # same host, same relying party: the group is checked by the portal
    options = post_json(client, "/other/preferences/passkeys/sign-in/options", {}).get_json()
    body = {"credential": authenticator.get(options)}
    answer = post_json(client, "/other/preferences/passkeys/sign-in", body)
    assert answer.status_code == 404
    assert client.get("/other/preferences/").status_code == 302


def test_confirm_it_is_you_with_a_passkey(client, smtp, demo, authenticator):
    person = subjects.find(demo.id, ADDRESS)
    client.get(f"/luxe/preferences/manage/{access.manage_token(person)}")
    fresh = client.get("/luxe/preferences/confirm-it-is-you?next=/luxe/my-data/")
    assert "Confirm with a passkey" in fresh.get_data(as_text=True)
    page = "/luxe/preferences/"
    options = post_json(client, f"{BASE}/confirm/options", {}, page).get_json()
    assert [c["id"] for c in options["allowCredentials"]] == [authenticator.get(options)["rawId"]]
    options = post_json(client, f"{BASE}/confirm/options", {}, page).get_json()
    body = {"credential": authenticator.get(options), "next": "/luxe/my-data/"}
    answer = post_json(client, f"{BASE}/confirm", body, page)
    assert answer.get_json() == {"redirect": "/luxe/my-data/"}
    assert _signed_in(client)


def test_confirming_takes_the_signed_in_person_s_own_passkey(client, smtp, demo, authenticator):
    subscribed(client, smtp, "someone@example.com")
    someone = subjects.find(demo.id, "someone@example.com")
    client.get(f"/luxe/preferences/manage/{access.manage_token(someone)}")
    page = "/luxe/preferences/"
    options = post_json(client, f"{BASE}/confirm/options", {}, page).get_json()
    assert options["allowCredentials"] == []
    body = {"credential": authenticator.get(options)}
    answer = post_json(client, f"{BASE}/confirm", body, page)
    assert answer.status_code == 404
    assert not _signed_in(client)
    assert "Confirm with a passkey" not in client.get(
        "/luxe/preferences/confirm-it-is-you"
    ).get_data(as_text=True)


def test_sign_in_attempts_are_limited_per_client(app, client, authenticator):
    app.config["RATELIMIT_SIGNUP_IP"] = "3 per minute"
    for _ in range(3):
        assert sign_in_with(client, authenticator, origin="https://evil.example").status_code == 400
    assert post_json(client, f"{BASE}/sign-in/options", {}).status_code == 429
