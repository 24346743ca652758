"""One-line steps of the self-service tests."""

import re

from tests.actions import deliver, path_of, sign_in, subscribed
from tests.conftest import csrf_token
from tests.smtp import text_of

ERASE_LINK = re.compile(r"https?://\S+/my-data/erase/\S+")
EMAIL_LINK = re.compile(r"https?://\S+/my-data/email/confirm/\S+")
PAGE = "/luxe/my-data/"


def signed_in(client, smtp, email):
    """A subscribed person holding the "full" level (a fresh magic link)."""
    subscribed(client, smtp, email)
    sign_in(client, smtp, email)
    smtp.clear()


def post_field(client, name, headers=None, **inputs):
    html = client.get(PAGE).get_data(as_text=True)
    data = {"csrf_token": csrf_token(html), **inputs}
    return client.post(f"{PAGE}field/{name}", data=data, headers=headers or {})


# Each field of the profile form and the inputs it posts.
FIELDS = {
    "first_name": ["first_name"],
    "last_name": ["last_name"],
    "preferred_language": ["preferred_language"],
    "mobile_number": ["mobile_number"],
    "postal_address": ["postal_line1", "postal_postcode", "postal_city", "postal_country"],
    "date_of_birth": ["birth_day", "birth_month", "birth_year"],
}


def fill_in_everything(client, **inputs):
    """Post every field of the profile in turn, as the person would; each must be saved."""
    for name, keys in FIELDS.items():
        answer = post_field(client, name, **{key: inputs[key] for key in keys})
        assert answer.status_code == 200, (name, answer.status_code)


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
