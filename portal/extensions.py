"""Extension instances, bound to the app in create_app()."""

import math
import time

from flask import has_request_context, request
from flask_babel import Babel
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from limits import RateLimitItem
from limits.strategies import STRATEGIES, FixedWindowRateLimiter
from limits.util import WindowStats
from sqlalchemy import BigInteger, Integer, MetaData
from sqlalchemy.orm import DeclarativeBase, registry

from portal.replica import RoutingSession

# Named constraints so that Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _render_type(type_, obj, autogen_context):
    """Migrations store our column types as what the database sees (no import of portal)."""
    if type_ == "type" and obj.__class__.__module__.startswith("portal."):
        return f"sa.{obj.impl!r}"
    return False


# Every id, sequence number and count is 64-bit: a 32-bit event id runs out in about 50 days
# at 500 events a second. On SQLite only INTEGER (itself 64-bit) makes a key the rowid.
BIG = BigInteger().with_variant(Integer(), "sqlite")


class Model(DeclarativeBase):
    registry = registry(metadata=MetaData(naming_convention=NAMING), type_annotation_map={int: BIG})


db = SQLAlchemy(model_class=Model, session_options={"class_": RoutingSession})
migrate = Migrate(render_as_batch=True, compare_type=True, render_item=_render_type)
mail = Mail()
babel = Babel()
csrf = CSRFProtect()
htmx = HTMX()


def client_address() -> str:
    return request.remote_addr or "unknown"


class KnownWindow(FixedWindowRateLimiter):
    """limits' fixed window, remembering what each hit learnt, so that the window's state
    (``get_window_stats``) costs no storage round trip in the request that hit it.

    The count is the storage's answer to the hit itself. When the window ends is known from
    the hit that opened it (the storage sets its expiry then); a process that did not see that
    hit asks the storage once per window, and remembers it. Flask-Limiter's own headers would
    ask for both on every request: two more Redis round trips each time.
    """

    _REMEMBERED = 10_000  # window ends kept per process; forgotten all at once past this

    def __init__(self, storage):
        super().__init__(storage)
        self._ends: dict[str, float] = {}

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        key = item.key_for(*identifiers)
        now = time.time()
        count = self.storage.incr(key, item.get_expiry(), amount=cost)
        end = self._ends.get(key)
        if count == cost:  # this hit opened the window
            end = now + item.get_expiry()
        elif end is None or end <= now:
            end = self.storage.get_expiry(key)
        if len(self._ends) >= self._REMEMBERED:
            self._ends.clear()
        self._ends[key] = end
        if has_request_context():
            request.environ.setdefault(_WINDOWS, {})[key] = WindowStats(
                end, max(0, item.amount - count)
            )
        return count <= item.amount

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        if has_request_context():
            known = request.environ.get(_WINDOWS, {}).get(item.key_for(*identifiers))
            if known is not None:
                return known
        return super().get_window_stats(item, *identifiers)


_WINDOWS = "portal.ratelimit_windows"  # this request's hits, by limit key
STRATEGIES["fixed-window-known"] = KnownWindow

# Flask-Limiter's own headers stay off (they would ask the storage again, see KnownWindow);
# the API writes RateLimit headers from ``limiter.current_limit`` (``portal.api``), and
# refused requests say when to come back (``retry_after``).
limiter = Limiter(
    client_address, default_limits=[], headers_enabled=False, strategy="fixed-window-known"
)


def retry_after() -> dict[str, str]:
    """``Retry-After`` for a request the limiter refused: seconds until its window resets."""
    limit = limiter.current_limit
    if limit is None:
        return {}
    return {"Retry-After": str(max(1, math.ceil(limit.reset_at - time.time())))}
