"""What a person or the worker does, in one line each, for the tests."""

import re
import threading
import time
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pyotp
from flask import g
from sqlalchemy import event, text

from portal.core.console.models import AdminAccount
from portal.core.kernel import clock, jobs
from portal.core.mail import address_requests, outbox
from portal.extensions import db
from tests.conftest import csrf_token
from tests.factories import PASSWORD
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
    """One pass of the outbox worker: every job's batches, then the mail."""
    jobs.run_all()
    return outbox.send_all()


def decide():
    """The worker's first half only: decide the waiting address requests (sign-ups, magic
    links, address changes), queueing their mail without sending it."""
    return address_requests.decide_all()


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


def open_manage_link(client, link):
    """Open a mail footer's "Manage preferences" link and press its button."""
    page = client.get(path_of(link)).get_data(as_text=True)
    return client.post(path_of(link), data={"csrf_token": csrf_token(page)})


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
    args = ["mail", "send-topic", "--yes", "--brand", brand, "--topic", topic, "--subject", subject]
    return runner.invoke(args=[*args, "--body-file", str(path)])


def one_click_url(message) -> str:
    """The https address of a topic mail's List-Unsubscribe header (RFC 8058)."""
    return re.search(r"<(https?://[^>]+)>", message["List-Unsubscribe"]).group(1)


def counting_queries(request, *args, **kwargs):
    """``request(*args, **kwargs)`` (a test client's get or post) with a cold session; returns
    (the response, how many SQL statements ran)."""
    count = 0

    def counted(*_args):
        nonlocal count
        count += 1

    db.session.expire_all()
    event.listen(db.engine, "before_cursor_execute", counted)
    try:
        response = request(*args, **kwargs)
    finally:
        event.remove(db.engine, "before_cursor_execute", counted)
    return response, count


def get_counting_queries(client, path: str):
    """GET ``path`` with a cold session; returns (the response, how many SQL statements ran)."""
    return counting_queries(client.get, path)


def _in_own_context(app, results: list, errors: list):
    """A thread body that runs one piece of work in its own app context and session, as a
    separate worker process would, keeping its result or its exception."""

    def worker(work):
        with app.app_context():
            try:
                results.append(work())
            except Exception as error:  # noqa: BLE001 - returned for the test to assert on
                errors.append(error)
            finally:
                db.session.remove()

    return worker


def at_once(app, work, workers: int = 3) -> tuple[list, list]:
    """Run ``work()`` in ``workers`` threads at the same time, each with its own app context and
    session, as separate worker processes would; returns (their results, their exceptions)."""
    results, errors = [], []
    worker = _in_own_context(app, results, errors)
    threads = [threading.Thread(target=worker, args=(work,)) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def side_by_side(app, monkeypatch, module, name: str):
    """A runner of the same work in two threads (``at_once``, on PostgreSQL) that both pause
    after their first call of ``module.name`` (a read of what is stored) until the other has
    made it too, or is waiting for a lock this one holds (PostgreSQL's ``pg_blocking_pids``),
    or has finished: a race made certain, without waiting on a timeout."""
    read = getattr(module, name)
    # One slot per thread, made before either starts: a thread finds the other's events
    # without a rendezvous, whether the other has started yet or not.
    has_read, done = (threading.Event(), threading.Event()), (threading.Event(), threading.Event())
    slots, taking = iter(range(2)), threading.Lock()
    mine = threading.local()

    def blocked_by(pid: int) -> bool:
        with db.engine.connect() as connection:
            return connection.scalar(
                text(
                    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity"
                    " WHERE :pid = ANY(pg_blocking_pids(pid)))"
                ),
                {"pid": pid},
            )

    def read_then_wait(*args, **kwargs):
        found = read(*args, **kwargs)
        me = getattr(mine, "slot", None)  # None: the test's own reads
        if me is not None and not getattr(mine, "paused", False):
            mine.paused = True
            has_read[me].set()
            other = 1 - me
            pid = db.session.scalar(text("SELECT pg_backend_pid()"))  # the one holding my locks
            deadline = time.monotonic() + 30
            while not (has_read[other].is_set() or done[other].is_set() or blocked_by(pid)):
                assert time.monotonic() < deadline, "the other thread neither read nor waited"
                has_read[other].wait(0.01)
        return found

    def started(work):
        def run():
            with taking:
                mine.slot = next(slots)
            try:
                return work()
            finally:
                done[mine.slot].set()

        return run

    def runner(work):
        nonlocal slots
        slots = iter(range(2))  # a runner may be used again: fresh slots and events
        for flag in (*has_read, *done):
            flag.clear()
        return at_once(app, started(work), workers=2)

    monkeypatch.setattr(module, name, read_then_wait)
    return runner


# The console


def create_owner(runner, email: str, password: str = PASSWORD):
    """``flask admins create-owner`` for the demo group, the password typed on stdin."""
    args = ["admins", "create-owner", "--group", "luxe", "--email", email, "--password-stdin"]
    result = runner.invoke(args=args, input=password + "\n")
    assert result.exit_code == 0, result.output
    return result


def code_for(account: AdminAccount) -> str:
    return pyotp.TOTP(account.totp_secret).at(clock.now())


def form_page(client, url: str) -> str:
    """A page with a form, as this client's browser would get it.

    The tests run inside one app context, whose ``g`` would otherwise hand the CSRF token of
    one client's session to another client.
    """
    g.pop("csrf_token", None)
    return client.get(url).get_data(as_text=True)


def log_in(client, account: AdminAccount, password=PASSWORD):
    page = form_page(client, "/admin/login")
    data = {"csrf_token": csrf_token(page), "email": account.email, "password": password}
    if account.totp_enabled:
        data["code"] = code_for(account)
    answer = client.post("/admin/login", data=data)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return answer


def post(client, url, data=None, **kwargs):
    """Submit a console form like a browser: open the page for its CSRF token, then post."""
    page = form_page(client, "/admin/account")
    return client.post(url, data={"csrf_token": csrf_token(page), **(data or {})}, **kwargs)


# Self-service (My data)

ERASE_LINK = re.compile(r"https?://\S+/my-data/erase/\S+")
EMAIL_LINK = re.compile(r"https?://\S+/my-data/email/confirm/\S+")
PAGE = "/luxe/my-data/"


def signed_in(client, smtp, email):
    """A subscribed person holding the "full" level (a fresh magic link)."""
    subscribed(client, smtp, email)
    sign_in(client, smtp, email)
    smtp.clear()


class _ProfileForm(HTMLParser):
    """The inputs of the profile form as a browser would send them untouched."""

    def __init__(self):
        super().__init__()
        self.inside, self.select, self.values = False, None, {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("action", "").endswith("/my-data/profile")
        elif self.inside and tag == "input" and attrs.get("name"):
            self.values[attrs["name"]] = attrs.get("value") or ""
        elif self.inside and tag == "select":
            self.select = attrs["name"]
            self.values.setdefault(self.select, "")
        elif self.inside and tag == "option" and self.select and "selected" in attrs:
            self.values[self.select] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def profile_form(page: str) -> dict:
    """Every input of the profile form on My data, with the value it holds now."""
    parser = _ProfileForm()
    parser.feed(page)
    assert parser.values, "no profile form in the page"
    return parser.values


def post_profile(client, headers=None, **inputs):
    """Save the profile form as the person would: every field as shown, ``inputs`` changed."""
    data = {**profile_form(client.get(PAGE).get_data(as_text=True)), **inputs}
    return client.post(f"{PAGE}profile", data=data, headers=headers or {})


def fill_in_everything(client, **inputs):
    """Fill in every field of the profile and save it once; it must be saved."""
    answer = post_profile(client, **inputs)
    assert answer.status_code == 200, answer.status_code


def link_in(pattern, message) -> str:
    match = pattern.search(text_of(message))
    assert match, "no link in the mail"
    return path_of(match.group(0))


def press(client, path):
    """Open a mailed link, then press the page's button."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})


def ask_erasure(client, smtp, email) -> str:
    page = client.get(f"{PAGE}erase").get_data(as_text=True)
    sent = client.post(f"{PAGE}erase", data={"csrf_token": csrf_token(page)})
    assert "Check your inbox" in sent.get_data(as_text=True)
    deliver()
    return link_in(ERASE_LINK, smtp.to(email)[-1])


def waiting_for_locks() -> int:
    """How many sessions of this PostgreSQL database wait for a lock now (pg_locks)."""
    query = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE NOT l.granted AND a.datname = current_database()"
    )
    with db.engine.connect() as connection:
        return connection.execute(query).scalar_one()


def held_at(app, monkeypatch, module, name: str, first, *others, patience: float = 30):
    """A race made certain, without guessing at times: ``first()`` runs in a thread until it
    has called ``module.name`` (say, ``ledger._heads``: it holds the person's lock for the
    ledger) and is held there; then each of ``others`` runs in a thread of its own, and once
    every one of them waits for a lock (asked of pg_locks) or is done, ``first`` goes on.
    Returns (the results, the exceptions) of all; ``patience`` only guards against a hang."""
    real = getattr(module, name)
    reached, go = threading.Event(), threading.Event()
    holder = []

    def hold(*args, **kwargs):
        found = real(*args, **kwargs)
        if threading.current_thread() is holder[0] and not reached.is_set():
            reached.set()
            go.wait(patience)
        return found

    monkeypatch.setattr(module, name, hold)
    results, errors = [], []
    worker = _in_own_context(app, results, errors)
    holder.append(threading.Thread(target=worker, args=(first,)))
    holder[0].start()
    assert reached.wait(patience), f"the first never reached {name}"
    threads = [threading.Thread(target=worker, args=(work,)) for work in others]
    deadline = time.monotonic() + patience
    for thread in threads:
        thread.start()
        while thread.is_alive() and waiting_for_locks() < sum(t.is_alive() for t in threads):
            assert time.monotonic() < deadline, "neither waiting nor done"
            time.sleep(0.01)
    go.set()
    for thread in [*holder, *threads]:
        thread.join(patience)
    return results, errors
