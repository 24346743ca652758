"""The one place itsdangerous is used: a salt and a lifetime per purpose.

A token only proves that we issued it; whether it may still be used (once only, for the
right subject) is decided by the core from the row the token names.
"""

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from portal.core.kernel import clock

# purpose -> (salt, config key of the lifetime in seconds)
PURPOSES = {
    "confirm-signup": ("portal.confirm-signup.v1", "CONFIRMATION_MAX_AGE"),
    # A magic link: names a SignInLink row, which makes it single use.
    "sign-in": ("portal.sign-in.v1", "MAGIC_LINK_MAX_AGE"),
    # The "Manage preferences" link in every mail's footer: subject and group, reusable.
    "manage": ("portal.manage.v1", "MANAGE_LINK_MAX_AGE"),
    # List-Unsubscribe (RFC 8058): subject, brand, topic; short enough for a mailto local part.
    "unsubscribe": ("portal.unsubscribe.v1", "UNSUBSCRIBE_LINK_MAX_AGE"),
    # "Withdraw and erase my data": names a SignInLink row of purpose "erase" (single use).
    "erase": ("portal.erase.v1", "ERASURE_LINK_MAX_AGE"),
    # A new address confirming itself: names an EmailChange row (single use).
    "change-email": ("portal.change-email.v1", "EMAIL_CHANGE_MAX_AGE"),
    "admin-invite": ("portal.admin-invite.v1", "ADMIN_INVITE_MAX_AGE"),
    # A console password reset: names the account's reset nonce, so it works once.
    "admin-reset": ("portal.admin-reset.v1", "ADMIN_RESET_MAX_AGE"),
    # The farewell mail's "status of your erasure": group and erasure id. It shows a status,
    # never acts, so it is reusable (and its route reads a ``ticket``, not a ``token``).
    "erasure-status": ("portal.erasure-status.v1", "ERASURE_STATUS_MAX_AGE"),
    # Lifecycle reminders: group and LifecycleNotice row ("Still right", "Keep my subscriptions").
    "still-right": ("portal.still-right.v1", "LIFECYCLE_LINK_MAX_AGE"),
    "keep": ("portal.keep.v1", "LIFECYCLE_LINK_MAX_AGE"),
}


class InvalidToken(Exception):
    """Tampered, truncated or made for another purpose."""


class ExpiredToken(Exception):
    """Genuine but too old; ``payload`` lets the caller offer a new one."""

    def __init__(self, payload):
        super().__init__("token expired")
        self.payload = payload


class _Signer(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(clock.now().timestamp())  # the core's clock, so tests can age a token


class _Serializer(URLSafeTimedSerializer):
    default_signer = _Signer


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    salt, _ = PURPOSES[purpose]
    return _Serializer(current_app.config["SECRET_KEY"], salt=salt)


def issue(purpose: str, payload: dict) -> str:
    return _serializer(purpose).dumps(payload)


def read(purpose: str, token: str) -> dict:
    """The payload of a valid, unexpired token; raises InvalidToken or ExpiredToken."""
    serializer = _serializer(purpose)
    max_age = current_app.config[PURPOSES[purpose][1]]
    try:
        return serializer.loads(token, max_age=max_age)
    except SignatureExpired as expired:
        try:
            payload = serializer.load_payload(expired.payload)
        except BadSignature:
            raise InvalidToken() from None
        raise ExpiredToken(payload) from None
    except BadSignature:
        raise InvalidToken() from None
