"""One-line steps of the passkey tests: the JSON calls static/passkeys.js makes."""

from tests.conftest import csrf_token

BASE = "/luxe/preferences/passkeys"
SIGN_IN_PAGE = "/luxe/preferences/sign-in"


def token(client, page: str = SIGN_IN_PAGE) -> str:
    """The CSRF token a page gives its script, as the X-CSRFToken header sends it back."""
    return csrf_token(client.get(page).get_data(as_text=True))


def post_json(client, path: str, body, page: str = SIGN_IN_PAGE):
    return client.post(path, json=body, headers={"X-CSRFToken": token(client, page)})


def add_passkey(client, authenticator, name: str = "My phone", origin: str | None = None):
    """Name it, ask for options, let the authenticator answer, send the answer."""
    options = post_json(client, f"{BASE}/new/options", {"name": name}, f"{BASE}/")
    assert options.status_code == 200, options.get_data(as_text=True)
    credential = authenticator.create(options.get_json(), origin=origin)
    return post_json(client, f"{BASE}/new", {"name": name, "credential": credential}, f"{BASE}/")


def sign_in_options(client) -> dict:
    answer = post_json(client, f"{BASE}/sign-in/options", {})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def sign_in_with(client, authenticator, next_path: str = "", **how):
    """The sign-in page's "Sign in with a passkey": options, the device's answer, the check."""
    credential = authenticator.get(sign_in_options(client), **how)
    return send_assertion(client, credential, next_path)


def send_assertion(client, credential: dict, next_path: str = ""):
    body = {"credential": credential, "next": next_path}
    return post_json(client, f"{BASE}/sign-in", body)


def sign_out(client) -> None:
    client.post("/luxe/preferences/sign-out", data={"csrf_token": token(client, "/luxe/")})
