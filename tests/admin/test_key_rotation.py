"""Rotating an API client's key with an overlap: both keys work until the old one is retired
or the overlap ends, from the console and from the command line, every step audited."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.core.console.models import AuditEntry
from portal.core.integrations import clients
from portal.core.kernel import clock
from portal.extensions import db
from tests.actions import log_in, post
from tests.factories import make_admin

KEY = re.compile(r'value="(cp_[0-9a-f]+\.[A-Za-z0-9_\-]+)"')
KEY_LINE = re.compile(r"\(shown once\): (cp_\S+)")


@pytest.fixture
def frozen():
    clock.freeze(clock.now().replace(microsecond=0))
    yield
    clock.freeze(None)


def works(client, key) -> bool:
    answer = client.get("/api/v1/webhooks", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code in (200, 401)
    return answer.status_code == 200


def actions(name: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == name)))


def test_both_keys_work_during_the_overlap_and_only_the_new_one_after_retirement(
    app, client, demo, frozen
):
    made, old = clients.create("luxe", "CRM", ["events:read"])
    log_in(client, make_admin(demo, "owner", "boss@luxe.example"))
    page = client.get(f"/admin/api-clients/{made.id}").get_data(as_text=True)
    assert "Rotate the key" in page and made.key_prefix in page and old not in page
    answer = post(client, f"/admin/api-clients/{made.id}/rotate", {"overlap_hours": "48"})
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    new = KEY.search(answer.get_data(as_text=True)).group(1)
    assert "The previous key keeps working until" in answer.get_data(as_text=True)
    assert new != old and works(client, new) and works(client, old)

    # A second rotation while the old key is valid would leave three keys: refused.
    again = post(client, f"/admin/api-clients/{made.id}/rotate", {"overlap_hours": "48"})
    assert again.status_code == 422
    assert "retire it before rotating again" in again.get_data(as_text=True)
    assert works(client, old)

    page = client.get(f"/admin/api-clients/{made.id}").get_data(as_text=True)
    assert "Retire the previous key" in page and "still valid until" in page
    question = client.get(f"/admin/api-clients/{made.id}/retire").get_data(as_text=True)
    assert "Yes, retire the previous key" in question
    assert works(client, old)  # asking changes nothing
    done = post(client, f"/admin/api-clients/{made.id}/retire", follow_redirects=True)
    assert "no longer works" in done.get_data(as_text=True)
    assert works(client, new) and not works(client, old)

    [rotated] = actions("api_client.rotate")
    assert rotated.before["key_prefix"] == old.split(".")[0]
    assert rotated.after["previous_key_prefix"] == old.split(".")[0]
    assert rotated.after["key_prefix"] == new.split(".")[0]
    [retired] = actions("api_client.retire")
    assert retired.after["previous_key_prefix"] is None
    assert old.split(".")[1] not in str(rotated.after) + str(rotated.before)


def test_the_old_key_ends_by_itself_when_the_overlap_is_over(app, client, demo, frozen):
    made, old = clients.create("luxe", "CRM", ["events:read"])
    with app.test_request_context():
        from portal.core.console import client_admin

        new = client_admin.rotate_key(None, made, 2)
    assert works(client, old) and works(client, new)
    clock.freeze(clock.now() + timedelta(hours=2, seconds=1))
    assert works(client, new) and not works(client, old)
    # Once the old key is over, the client may rotate again.
    with app.test_request_context():
        newer = client_admin.rotate_key(None, made)
    assert works(client, newer) and works(client, new) and not works(client, old)


def test_the_command_line_rotates_and_retires_with_an_audit_row(app, client, runner, demo, frozen):
    made, old = clients.create("luxe", "CRM", ["events:read"])
    app.config["API_KEY_OVERLAP_HOURS"] = 24
    result = runner.invoke(args=["api-clients", "rotate", str(made.id)])
    assert result.exit_code == 0, result.output
    new = KEY_LINE.search(result.output).group(1)
    until = (clock.now() + timedelta(hours=24)).strftime("%Y-%m-%d %H:%M")
    assert f"works until {until} UTC" in result.output
    assert works(client, old) and works(client, new)
    refused = runner.invoke(args=["api-clients", "rotate", str(made.id)])
    assert refused.exit_code == 1 and "retire it before rotating again" in refused.output
    result = runner.invoke(args=["api-clients", "retire", str(made.id)])
    assert result.exit_code == 0 and "retired" in result.output
    assert works(client, new) and not works(client, old)
    assert [e.actor for e in actions("api_client.rotate") + actions("api_client.retire")] == [
        "cli",
        "cli",
    ]
    missing = runner.invoke(args=["api-clients", "rotate", "999999"])
    assert missing.exit_code == 1 and "no API client 999999" in missing.output
    bad = runner.invoke(args=["api-clients", "rotate", str(made.id), "--overlap-hours", "0"])
    assert bad.exit_code == 1 and "more than 0 hours" in bad.output


def test_a_bad_overlap_is_a_form_error_and_changes_nothing(client, demo):
    made, old = clients.create("luxe", "CRM", ["events:read"])
    log_in(client, make_admin(demo, "owner", "boss@luxe.example"))
    for value in ("", "-1", "abc", "100000", "nan", "inf", "1e400"):
        answer = post(client, f"/admin/api-clients/{made.id}/rotate", {"overlap_hours": value})
        assert answer.status_code == 422
        assert "more than 0 hours and at most a year" in answer.get_data(as_text=True)
    assert works(client, old) and actions("api_client.rotate") == []
