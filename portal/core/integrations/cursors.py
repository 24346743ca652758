"""Opaque feed cursors: a client stores them and hands them back, never builds them.

A cursor is a position in a group's feed: (the writing transaction's id, the event's id),
written ``e2:<xid>.<id>`` with 19 digits each, so that ``PATTERN`` describes every one (see
``events`` on why that order is commit order). Cursors handed
out before that order came in say ``e1:<seq>``, the group's event number of the time; they
still work (``Legacy``: the feed finds the event that bore the number), and events written
then keep their ``e1`` id, so a client that stored one sees the same id again.
"""

import base64
import binascii
from typing import NamedTuple

from flask_babel import lazy_gettext as _l

from portal.core.kernel.errors import InvalidInput

_URLSAFE = bytes.maketrans(b"+/", b"-_")
# Every cursor ``encode`` makes, and nothing else, for event numbers of 1 to 18 digits: "e1:"
# in base64 is ZTE6; then each three digits (bytes 0x30-0x39) become four characters, and one
# or two digits left over become two or three. The API documents it, so a client (or a fuzzer)
# can tell a cursor from any other string without asking.
_TRIPLE = "(?:[MN][DTjz]|O[DT])[AEIMQUYcgk][w-z0-5]"
_ONE = "(?:[MN][AQgw]|O[AQ])"
_TWO = "(?:[MN][DTjz]|O[DT])[AEIMQUYcgk]"
_LEGACY = f"ZTE6(?:{_TRIPLE}){{0,5}}(?:{_TRIPLE}|{_ONE}|{_TWO})"
# "e2:" is ZTI6; then xid and id, 19 digits each around a dot: six groups of three digits,
# the group of digit, dot, digit, and six groups of three digits again.
_DIGIT_DOT_DIGIT = "(?:[MN][CSiy]|O[CS])4[w-z0-5]"
_POSITION = f"ZTI6(?:{_TRIPLE}){{6}}{_DIGIT_DOT_DIGIT}(?:{_TRIPLE}){{6}}"
PATTERN = f"^(?:{_LEGACY}|{_POSITION})$"


class Position(NamedTuple):
    xid: int
    id: int


class Legacy(NamedTuple):
    """A cursor from before commit-ordered positions: the group's event number ``seq``."""

    seq: int


START = Position(0, 0)  # before every event (events written before the upgrade have xid 0)


_B64 = binascii.b2a_base64  # directly: base64's wrappers cost more than the encoding


def _wrap(plain: bytes) -> str:
    return _B64(plain, newline=False).rstrip(b"=").translate(_URLSAFE).decode()


def encode(xid: int, id_: int) -> str:
    return _wrap(b"e2:%019d.%019d" % (xid, id_))


def encode_legacy(seq: int) -> str:
    return _wrap(b"e1:%d" % seq)


def of(xid: int, id_: int, seq: int | None) -> str:
    """An event's id as clients see it: its ``e1`` number when it has one, its position else.
    Called 10,000 times a page: one call, no helper."""
    plain = b"e2:%019d.%019d" % (xid, id_) if seq is None else b"e1:%d" % seq
    return _B64(plain, newline=False).rstrip(b"=").translate(_URLSAFE).decode()


def decode(cursor: str | None) -> Position | Legacy:
    """The position a cursor stands for; "" or None means the start of the feed."""
    if not cursor:
        return START
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, rest = text.partition(":")
        if kind == "e1":
            found = Legacy(_natural(rest))
        elif kind == "e2":
            xid, _, id_ = rest.partition(".")
            found = Position(_natural(xid, clamp=True), _natural(id_, clamp=True))
        else:
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("after", _l("This cursor was not issued by this feed.")) from None
    return found


def _natural(text: str, clamp: bool = False) -> int:
    """A number of at most 19 digits; past 2^63-1 an error, or (``clamp``, a position) the
    end of the feed: every 19-digit position the documented pattern allows is a place."""
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise ValueError
    value = int(text)
    if value >= 2**63:
        if not clamp:
            raise ValueError
        value = 2**63 - 1
    return value
