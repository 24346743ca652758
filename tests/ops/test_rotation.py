"""Key rotation while the portal serves: nothing fails, nothing is lost, the old key goes."""

import threading
import time

from sqlalchemy import event, text

from portal import create_app
from portal.core.kernel import rotation
from portal.core.kernel.crypto import Keys
from portal.core.people import subjects
from portal.extensions import db
from tests.actions import PAGE, decide, post_profile, sign_up, signed_in

NEW_KEY = "bmV3LWRhdGEta2V5LW5ldy1kYXRhLWtleS1uZXctZGE="


def _new_key(app) -> None:
    """What a restart with PORTAL_DATA_KEY=new and PORTAL_OLD_DATA_KEYS=old does."""
    old = app.config["PORTAL_DATA_KEY"]
    app.extensions["portal.keys"] = Keys(NEW_KEY, app.config["PORTAL_HASH_KEY"], [old])
    db.session.expire_all()


def _old_key_dropped(app) -> None:
    app.extensions["portal.keys"] = Keys(NEW_KEY, app.config["PORTAL_HASH_KEY"])
    db.session.expire_all()


def test_the_configured_old_keys_stay_readable_and_the_command_moves_everything(app, client, demo):
    sign_up(client, "configured@example.com")
    decide()
    # Read now: inside the other app's context the test's own session would take a connection
    # of that app's engine for the refresh, and keep it past that engine's end.
    group_id = demo.id
    stores = {
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "PORTAL_KEYS_URL": app.config["PORTAL_KEYS_URL"],
    }
    old = app.config["PORTAL_DATA_KEY"]
    rotated = create_app({**stores, "PORTAL_DATA_KEY": NEW_KEY, "PORTAL_OLD_DATA_KEYS": [old]})
    with rotated.app_context():
        assert subjects.find(group_id, "configured@example.com").email == "configured@example.com"
        result = rotated.test_cli_runner().invoke(args=["keys", "rotate", "--batch", "1"])
        assert "1 people's keys wrapped under the new key" in result.output, result.output
        assert "nothing left under an old key" in result.output, result.output
        db.session.remove()
        db.engine.dispose()
    # A restart with the new key alone reads the person: their key was wrapped again, their
    # rows (under their own key) were not rewritten.
    restarted = create_app({**stores, "PORTAL_DATA_KEY": NEW_KEY})
    with restarted.app_context():
        assert subjects.find(group_id, "configured@example.com").email == "configured@example.com"
        db.session.remove()
        db.engine.dispose()


def test_a_value_changed_while_its_batch_is_rewritten_is_kept(app, client, demo, smtp):
    """Data still under the data key (here a person not yet given a key of their own, as
    before `flask keys per-person`) is rewritten row by row, losing no change made meanwhile."""
    signed_in(client, smtp, "race@example.com")
    db.session.execute(text("UPDATE subject SET key_ref = NULL"))
    db.session.commit()
    post_profile(client, first_name="Before")
    _new_key(app)
    during = []

    def meanwhile(_connection, _cursor, statement, *_args):
        # The person saves a new name after the rotation read the row, before it writes it.
        if statement.lstrip().upper().startswith("UPDATE PROFILE_FIELD") and not during:
            during.append("started")
            saving = threading.Thread(
                target=lambda: during.append(post_profile(client, first_name="During").status_code)
            )
            saving.start()
            saving.join()

    event.listen(db.engine, "before_cursor_execute", meanwhile)
    try:
        rotation.rotate(batch=1)
    finally:
        event.remove(db.engine, "before_cursor_execute", meanwhile)
    assert during == ["started", 200]
    assert rotation.remaining() == 0
    _old_key_dropped(app)
    assert 'value="During"' in client.get(PAGE).get_data(as_text=True)


def test_rotation_in_batches_while_people_read_and_write(app, demo, smtp):
    app.config["RATELIMIT_SIGNUP_IP"] = "1000 per minute"  # every client here is one IP
    group_id = demo.id
    people, newcomers = {}, app.test_client()
    for n in range(4):
        with app.app_context():  # a context of each person's own: Flask-WTF keeps tokens in g
            people[f"reader{n}@example.com"] = person = app.test_client()
            signed_in(person, smtp, f"reader{n}@example.com")
            post_profile(person, first_name="Name 0")
    with app.app_context():
        for n in range(20):
            sign_up(newcomers, f"before{n}@example.com")
            decide()
    _new_key(app)
    assert rotation.remaining() > 20

    stop, failures, last_name = threading.Event(), [], {}

    def reads_and_writes(email, person):
        turn = 0
        while not stop.is_set() or turn < 3:
            turn += 1
            saved = post_profile(person, first_name=f"Name {turn}")
            page = person.get(PAGE)
            html = page.get_data(as_text=True)
            if saved.status_code != 200 or page.status_code != 200:
                failures.append((email, saved.status_code, page.status_code))
            elif email not in html or f'value="Name {turn}"' not in html:
                failures.append((email, "read back wrong", turn))
            last_name[email] = f"Name {turn}"

    def signs_up():
        turn = 0
        while not stop.is_set() or turn < 3:
            turn += 1
            answer = sign_up(newcomers, f"during{turn}@example.com")
            if answer.status_code != 200:
                failures.append(("sign-up", answer.status_code, turn))

    workers = [threading.Thread(target=reads_and_writes, args=pair) for pair in people.items()]
    workers.append(threading.Thread(target=signs_up))
    for worker in workers:
        worker.start()
    try:
        # Small batches with a pause after each: the requests run between the batches.
        rewritten = rotation.rotate(batch=3, progress=lambda *_: time.sleep(0.01))
    finally:
        stop.set()
        for worker in workers:
            worker.join()

    assert failures == []
    assert sum(rewritten.values()) > 20
    assert rotation.remaining() == 0
    _old_key_dropped(app)
    for email, person in people.items():
        html = person.get(PAGE).get_data(as_text=True)
        assert email in html and f'value="{last_name[email]}"' in html
    for n in range(20):
        assert subjects.find(group_id, f"before{n}@example.com").email == f"before{n}@example.com"
