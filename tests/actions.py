"""What a person or the worker does, in one line each, for the tests."""

import re
from urllib.parse import urlsplit

from portal.core import outbox
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
