"""What a person or the worker does, in one line each, for the tests."""

import contextlib
import re
import threading
from urllib.parse import urlsplit

from sqlalchemy import event

from portal.core.mail import outbox
from portal.extensions import db
from tests.conftest import csrf_token
from tests.smtp import text_of

TOPIC = re.compile(r'name="topics" value="(\d+)"')
TEXT_VERSION = re.compile(r'name="text_version" value="(\d+)"')
LINK = re.compile(r"https?://\S+/confirm/\S+")


def signup_page(client, brand="camille", group="luxe", **headers):
    return client.get(f"/{group}/join/{brand}", headers=headers)


def sign_up(client, email, brand="camille", group="luxe", topics=None, headers=None, **extra):
    """Open the sign-up page like a browser, tick ``topics`` (default: the first two), send."""
    page = signup_page(client, brand, group).get_data(as_text=True)
    offered = [int(t) for t in TOPIC.findall(page)]
    data = {
        "csrf_token": csrf_token(page),
        "email": email,
        "topics": offered[:2] if topics is None else topics,
        "text_version": TEXT_VERSION.search(page).group(1),
    }
    data.update(extra)
    return client.post(f"/{group}/join/{brand}", data=data, headers=headers or {})


def deliver():
    """One pass of the outbox worker."""
    return outbox.send_all()


def confirmation_link(message) -> str:
    match = LINK.search(text_of(message))
    assert match, "no confirmation link in the mail"
    return match.group(0)


def path_of(link: str) -> str:
    return urlsplit(link).path


def confirm(client, link):
    """Open the link from the mail, then press Confirm."""
    page = client.get(path_of(link))
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    return client.post(path_of(link), data={"csrf_token": csrf_token(html)})


MAGIC = re.compile(r"https?://\S+/preferences/link/\S+")
MANAGE = re.compile(r"https?://\S+/preferences/manage/\S+")


def subscribed(client, smtp, email, brand="camille", topics=None):
    """Sign up and confirm: a subscribed person, with no mail left in the sink."""
    sign_up(client, email, brand=brand, topics=topics)
    deliver()
    confirm(client, confirmation_link(smtp.to(email)[-1]))
    smtp.clear()


def request_link(client, email, group="luxe", **extra):
    page = client.get(f"/{group}/preferences/sign-in").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "email": email, **extra}
    return client.post(f"/{group}/preferences/sign-in", data=data)


def magic_link(message) -> str:
    match = MAGIC.search(text_of(message))
    assert match, "no sign-in link in the mail"
    return match.group(0)


def manage_link(message) -> str:
    match = MANAGE.search(text_of(message))
    assert match, "no manage link in the mail"
    return match.group(0)


def sign_in(client, smtp, email):
    """Ask for a magic link, read it from the mail, open it and press the button."""
    smtp.clear()
    request_link(client, email)
    deliver()
    link = magic_link(smtp.to(email)[-1])
    page = client.get(path_of(link)).get_data(as_text=True)
    return client.post(path_of(link), data={"csrf_token": csrf_token(page)})


ROW = re.compile(r'name="shown" value="(\d+:\w+):([01])"')


def centre_form(html: str) -> dict:
    """The centre's form as a browser would send it untouched: {"topic:channel": shown}."""
    return {key: state == "1" for key, state in ROW.findall(html)}


def save(client, html, changes: dict, group="luxe", **extra):
    """Send the centre's form with ``changes`` ({"topic:channel": on}) applied to it."""
    rows = centre_form(html)
    ticked = {key for key, on in rows.items() if on}
    for key, on in changes.items():
        (ticked.add if on else ticked.discard)(key)
    data = {
        "csrf_token": csrf_token(html),
        "shown": [f"{key}:{1 if on else 0}" for key, on in rows.items()],
        "consent": sorted(ticked),
        **extra,
    }
    return client.post(f"/{group}/preferences/", data=data)


def send_topic(runner, tmp_path, subject: str, body: str, brand="camille", topic="news"):
    """An admin runs ``flask mail send-topic``; returns the command's result."""
    path = tmp_path / "body.txt"
    path.write_text(body)
    args = ["mail", "send-topic", "--brand", brand, "--topic", topic, "--subject", subject]
    return runner.invoke(args=[*args, "--body-file", str(path)])


def one_click_url(message) -> str:
    """The https address of a topic mail's List-Unsubscribe header (RFC 8058)."""
    return re.search(r"<(https?://[^>]+)>", message["List-Unsubscribe"]).group(1)


def get_counting_queries(client, path: str):
    """GET ``path`` with a cold session; returns (the response, how many SQL statements ran)."""
    count = 0

    def counted(*_args):
        nonlocal count
        count += 1

    db.session.expire_all()
    event.listen(db.engine, "before_cursor_execute", counted)
    try:
        response = client.get(path)
    finally:
        event.remove(db.engine, "before_cursor_execute", counted)
    return response, count


def at_once(app, work, workers: int = 3) -> tuple[list, list]:
    """Run ``work()`` in ``workers`` threads at the same time, each with its own app context and
    session, as separate worker processes would; returns (their results, their exceptions)."""
    results, errors = [], []

    def worker():
        with app.app_context():
            try:
                results.append(work())
            except Exception as error:  # noqa: BLE001 - returned for the test to assert on
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def side_by_side(app, monkeypatch, module, name: str):
    """A runner of the same work in two threads (``at_once``) that both pause after their
    first call of ``module.name`` (a read of what is stored) until the other has made it too,
    or for two seconds when the other is kept waiting by a lock: a race made certain."""
    read = getattr(module, name)
    both_read = threading.Barrier(2, timeout=2)
    paused = threading.local()

    def read_then_wait(*args, **kwargs):
        found = read(*args, **kwargs)
        if not getattr(paused, "once", False):
            paused.once = True
            with contextlib.suppress(threading.BrokenBarrierError):
                both_read.wait()
        return found

    monkeypatch.setattr(module, name, read_then_wait)
    return lambda work: at_once(app, work, workers=2)
