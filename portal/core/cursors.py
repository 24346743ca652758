"""Opaque feed cursors: a client stores them and hands them back, never builds them."""

import base64

from flask_babel import lazy_gettext as _l

from portal.core.errors import InvalidInput

_PREFIX = "e1:"


def encode(seq: int) -> str:
    return base64.urlsafe_b64encode(_PREFIX.encode() + b"%d" % seq).rstrip(b"=").decode()


def decode(cursor: str | None) -> int:
    """The event number a cursor stands for; "" or None means the start of the feed."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith(_PREFIX):
            raise ValueError
        seq = int(text[len(_PREFIX) :])
        if seq < 0:
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("after", _l("This cursor was not issued by this feed.")) from None
    return seq
