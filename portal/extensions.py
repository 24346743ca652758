"""Extension instances, bound to the app in create_app()."""

import math
import threading
import time
from dataclasses import dataclass
from functools import wraps

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
        self._leased = _Leases(self)

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        if any(part.startswith(LEASED) for part in identifiers):
            return self._leased.hit(item, *identifiers, cost=cost)
        key = item.key_for(*identifiers)
        now = time.time()
        count = self.storage.incr(key, item.get_expiry(), amount=cost)
        self._remember(key, item, count, cost, now, max(0, item.amount - count))
        return count <= item.amount

    def _remember(self, key, item, count: int, cost: int, now: float, remaining: int) -> float:
        """The window's end (known from the hit that opened it, else asked once per window) and
        this request's view of it, for the RateLimit headers."""
        end = self._ends.get(key)
        if count == cost:  # this hit opened the window
            end = now + item.get_expiry()
        elif end is None or end <= now:
            end = self.storage.get_expiry(key)
        if len(self._ends) >= self._REMEMBERED:
            self._ends.clear()
        self._ends[key] = end
        if has_request_context():
            request.environ.setdefault(_WINDOWS, {})[key] = WindowStats(end, remaining)
        return end

    def forget(self) -> None:
        """Drop what this process remembers (with ``Limiter.reset``, which empties the storage)."""
        self._ends.clear()
        self._leased.forget()

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        if has_request_context():
            known = request.environ.get(_WINDOWS, {}).get(item.key_for(*identifiers))
            if known is not None:
                return known
        return super().get_window_stats(item, *identifiers)


# Keys of limits counted with leases (``_Leases``): an API client's, never a sign-up's.
LEASED = "api-client:"


@dataclass
class _Lease:
    end: float  # when the window ends
    taken: int  # the storage's count after this process's last lease: every process's hits
    left: int  # hits of the lease not used yet


class _Leases:
    """API clients' limits without a storage round trip on every request.

    A process takes hits from the shared count in leases: one increment of the storage by
    ``size`` hits, which it then spends locally. The storage's count is never behind what was
    admitted, so the limit holds exactly across any number of processes and instances (never
    one request more); what a lease leaves unspent when the window ends is lost, so a client
    spreading its requests over P processes may be refused up to P leases early. A lease is a
    64th of what was left of the limit when it was taken (at most 64 hits, at least 1): a
    small limit, or the last hits of any limit, count one by one as before, and a client
    sending far below its limit costs one storage round trip per 64 requests.
    """

    MOST = 64
    SHARE = 64  # a lease is at most this fraction of what is left

    def __init__(self, window: "KnownWindow"):
        self.window = window
        self.lock = threading.Lock()
        self.leases: dict[str, _Lease] = {}

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        key = item.key_for(*identifiers)
        now = time.time()
        with self.lock:
            lease = self.leases.get(key)
            if lease is not None and lease.end <= now:
                lease = None
            if lease is None or (lease.left < cost and lease.taken < item.amount):
                lease = self._take(key, item, cost, now, lease)
            allowed = lease.left >= cost
            if allowed:
                lease.left -= cost
            remaining = max(0, item.amount - (lease.taken - lease.left))
        if has_request_context():
            request.environ.setdefault(_WINDOWS, {})[key] = WindowStats(lease.end, remaining)
        return allowed

    def _take(self, key, item, cost: int, now: float, lease: "_Lease | None") -> _Lease:
        known = lease.taken if lease is not None else 0
        size = max(cost, min(self.MOST, (item.amount - known) // self.SHARE))
        count = self.window.storage.incr(key, item.get_expiry(), amount=size)
        end = self.window._remember(key, item, count, size, now, 0)
        # Of the hits just taken, only those still under the limit are this process's to spend.
        granted = max(0, min(size, item.amount - (count - size)))
        left = (lease.left if lease is not None and lease.end == end else 0) + granted
        if len(self.leases) >= KnownWindow._REMEMBERED:
            self.leases.clear()
        self.leases[key] = lease = _Lease(end, count, left)
        return lease

    def forget(self) -> None:
        with self.lock:
            self.leases.clear()


def _pages_only(hook):
    """``hook`` (Flask-Limiter's) for every request but the API's; an API answer passes as is."""

    @wraps(hook)
    def pages_only(argument):
        if has_request_context() and request.blueprint == "api":
            return argument
        return hook(argument)

    pages_only.pages_only = True
    return pages_only


class PortalLimiter(Limiter):
    """Flask-Limiter for the pages' limits (sign-up, sign-in, console); API requests are
    counted by ``portal.api.limits`` instead, which it leaves alone."""

    def _check_request_limit(self, callable_name=None, in_middleware=True) -> None:
        if request.blueprint == "api":
            return
        super()._check_request_limit(callable_name, in_middleware)

    def init_app(self, app) -> None:
        super().init_app(app)
        # Its after-request (its headers, conditional deductions) and teardown have nothing to
        # do on an API request either; they built its per-request state for nothing.
        for hooks in (app.after_request_funcs, app.teardown_request_funcs):
            app_wide = hooks.get(None, [])
            for index, hook in enumerate(app_wide):
                owner = getattr(hook, "__self__", None) or getattr(hook, "args", (None,))[0]
                if owner is self:
                    app_wide[index] = _pages_only(hook)

    def reset(self) -> None:
        """Empty the storage and what each strategy remembers of it."""
        super().reset()
        if isinstance(self.limiter, KnownWindow):
            self.limiter.forget()


_WINDOWS = "portal.ratelimit_windows"  # this request's hits, by limit key
# The API's limit shown to the client in this request: (RateLimitItem, WindowStats), set by
# ``portal.api.limits`` (RateLimit headers, and Retry-After when it refused the request).
RATE_SHOWN = "portal.ratelimit_shown"


def window_of(strategy, item: RateLimitItem, identifiers) -> WindowStats:
    """The window a hit just counted in (KnownWindow remembers it: no storage round trip)."""
    return strategy.get_window_stats(item, *identifiers)


STRATEGIES["fixed-window-known"] = KnownWindow

# Flask-Limiter's own headers stay off (they would ask the storage again, see KnownWindow);
# the API writes RateLimit headers from ``limiter.current_limit`` (``portal.api``), and
# refused requests say when to come back (``retry_after``).
limiter = PortalLimiter(
    client_address, default_limits=[], headers_enabled=False, strategy="fixed-window-known"
)


def retry_after() -> dict[str, str]:
    """``Retry-After`` for a request the limiter refused: seconds until its window resets."""
    shown = request.environ.get(RATE_SHOWN)
    if shown is not None:
        return {"Retry-After": str(max(1, math.ceil(shown[1].reset_time - time.time())))}
    limit = limiter.current_limit
    if limit is None:
        return {}
    return {"Retry-After": str(max(1, math.ceil(limit.reset_at - time.time())))}
