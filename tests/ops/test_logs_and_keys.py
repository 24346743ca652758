"""Logs hold no personal data or tokens; keys rotate while data stays readable."""

import json
import logging

from portal.core.kernel import rotation, subject_keys
from portal.core.kernel.crypto import Keys
from portal.core.people import subjects
from portal.extensions import db
from tests.actions import confirm, confirmation_link, decide, deliver, path_of, sign_up

NEW_KEY = "bmV3LWRhdGEta2V5LW5ldy1kYXRhLWtleS1uZXctZGE="


def test_a_full_journey_logs_no_address_and_no_token(client, demo, smtp, caplog):
    caplog.set_level(logging.DEBUG)
    sign_up(client, "Private.Person@Example.net")
    deliver()
    link = confirmation_link(smtp.messages[0])
    confirm(client, link)
    sign_up(client, "bad address", topics=[])
    ours = [r for r in caplog.records if r.name != "mail.log"]  # not the test's SMTP server
    text = "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str) for r in ours).lower()
    assert "private.person" not in text and "example.net" not in text
    assert path_of(link).rsplit("/", 1)[1].lower() not in text
    routes = {r.__dict__.get("route") for r in caplog.records if r.name == "portal.request"}
    assert "/<group>/confirm/<token>" in routes


def test_request_lines_carry_an_id_status_and_duration(client, demo, caplog):
    caplog.set_level(logging.INFO, logger="portal.request")
    answer = client.get("/luxe/", headers={"X-Request-ID": "abc12345-from-proxy"})
    assert answer.headers["X-Request-ID"] == "abc12345-from-proxy"
    [line] = [r for r in caplog.records if r.name == "portal.request"]
    assert (line.status, line.method, line.request_id) == (200, "GET", "abc12345-from-proxy")
    assert line.duration_ms >= 0


def test_rotation_rewrites_under_the_new_key_and_old_data_stays_readable(app, client, demo):
    sign_up(client, "rotate@example.com")
    decide()
    group_id = demo.id
    old = app.config["PORTAL_DATA_KEY"]
    app.extensions["portal.keys"] = Keys(NEW_KEY, app.config["PORTAL_HASH_KEY"], [old])
    db.session.expire_all()
    assert subjects.find(group_id, "rotate@example.com").email == "rotate@example.com"
    # Their address and queued mail are under their own key: only that key is wrapped again.
    assert rotation.remaining() == 1
    rewritten = rotation.rotate(batch=1)
    assert {table: n for table, n in rewritten.items() if n} == {"subject_key": 1}
    assert rotation.remaining() == 0
    # The old key is no longer needed.
    app.extensions["portal.keys"] = Keys(NEW_KEY, app.config["PORTAL_HASH_KEY"])
    subject_keys.store().forget_all()
    db.session.expire_all()
    assert subjects.find(group_id, "rotate@example.com").email == "rotate@example.com"


def test_flask_keys_rotate_reports_progress(app, runner, client, demo):
    sign_up(client, "cli@example.com")
    decide()
    app.extensions["portal.keys"] = Keys(
        NEW_KEY, app.config["PORTAL_HASH_KEY"], [app.config["PORTAL_DATA_KEY"]]
    )
    result = runner.invoke(args=["keys", "rotate"])
    assert "key store: 1 people's keys wrapped under the new key" in result.output
    assert "nothing left under an old key" in result.output


def test_the_development_server_prints_no_paths():
    """Its access lines would print confirmation tokens; the portal's own line replaces them."""
    from portal.ops.logs import _NoAccessLines

    line = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        "",
        0,
        '127.0.0.1 - - [23/Nov/2026 17:23:10] "GET /luxe/confirm/abc HTTP/1.1" 200 -',
        None,
        None,
    )
    banner = logging.LogRecord(
        "werkzeug", logging.INFO, "", 0, " * Running on http://x", None, None
    )
    assert not _NoAccessLines().filter(line)
    assert _NoAccessLines().filter(banner)
