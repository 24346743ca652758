"""Reads that tolerate a little lag go to a PostgreSQL read replica (DATABASE_REPLICA_URL).

A few answers may be a second old without harm: an integrator's lookups and audience checks,
the change feed, a person's export, the console's figures (``LAGGING``, and the API's
operations declared ``may_lag``). While one of them runs, the session sends its plain reads to
the replica; everything else stays on the primary: writes, reads that lock (``FOR UPDATE``),
raw SQL, and any read after the transaction wrote (it must see its own write). Every other
route never touches the replica.

The replica is used only while it is healthy: reachable, still a standby, and no more than
REPLICA_MAX_LAG_SECONDS behind (asked at most once a second per process). Otherwise the
primary answers, so a replica that stops or falls behind costs speed, never an error.

A person's own reads after their own write are answered by the primary: a browser request
that wrote leaves the primary's WAL position in the signed session cookie, and a lagging read
uses the replica only once the replica has replayed past it. The API keeps no such cookie;
its lookups may lag by up to REPLICA_MAX_LAG_SECONDS (the README says so), and the client
behind an API request is always read from the primary, so a revoked key stops at once.
"""

import time
from functools import wraps

import flask_sqlalchemy.session
from flask import Flask, current_app, request, session
from sqlalchemy import Select, event, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import CompoundSelect

from portal import reading

BIND = "replica"
CHECK_EVERY = 1.0  # seconds between two health checks of the replica, per process
_PREFER = "portal.replica.prefer"  # session.info: plain reads of this view may lag
_WROTE = "portal.replica.wrote"  # session.info: this transaction wrote (reads go to primary)
_WROTE_ANY = "portal.replica.wrote_any"  # session.info: something was written in this context
_POSITION = "lsn"  # Flask session: the primary's WAL position after this person's last write

# The views outside the API whose reads may lag, by endpoint (a test checks each still names a
# route). The API's are its operations declared ``may_lag`` (``lagging_endpoints``).
LAGGING = frozenset(
    {
        "selfservice.download",
        "admin.dashboard",
        "admin.brand_figures",
        "admin.figures_csv",
        "admin.brand_figures_csv",
    }
)


def lagging_endpoints(app: Flask) -> frozenset[str]:
    """Every view of ``app`` whose reads may lag: LAGGING and the API operations declared so
    (read from the declaration ``portal.api.contract.operation`` leaves on a view: the core,
    which imports this module, stands below the API)."""
    declared = {
        endpoint
        for endpoint, view in app.view_functions.items()
        if getattr(getattr(view, "operation", None), "may_lag", False)
    }
    return LAGGING | declared


_HEALTH_SQL = text(
    """
    SELECT pg_is_in_recovery(),
           EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming'),
           CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END
    """
)
_health: dict[int, tuple[float, bool]] = {}  # id(engine) -> (checked at, usable)


class RoutingSession(flask_sqlalchemy.session.Session):
    """Flask-SQLAlchemy's session, sending a lagging view's plain reads to the replica."""

    def _connection_for_bind(self, engine, execution_options=None, **kwargs):
        # While reading only (``reading``), each engine's first connection is in autocommit.
        if reading.active():
            begun = self._transaction
            if begun is None or engine not in begun._connections:
                execution_options = {**(execution_options or {}), "isolation_level": "AUTOCOMMIT"}
        return super()._connection_for_bind(engine, execution_options, **kwargs)

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if (
            bind is None
            and self.info.get(_PREFER)
            and not self.info.get(_WROTE)
            and not self._flushing
            and _plain_read(clause)
        ):
            replica = self._db.engines.get(BIND)
            if replica is not None and healthy(replica):
                return replica
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


def _plain_read(clause) -> bool:
    if isinstance(clause, CompoundSelect):
        return True
    return isinstance(clause, Select) and clause._for_update_arg is None


def _flushed(session, context) -> None:
    if session.new or session.dirty or session.deleted or context.nodes:
        session.info[_WROTE] = session.info[_WROTE_ANY] = True


def _executed(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = state.session.info[_WROTE_ANY] = True


def _ended(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_WROTE, None)


def _listen() -> None:
    """What a transaction wrote is tracked only where a replica is configured: the listeners
    are on every session of the process, and the others need not pay for them."""
    for name, listener in (
        ("after_flush", _flushed),
        ("do_orm_execute", _executed),
        ("after_transaction_end", _ended),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


def healthy(engine) -> bool:
    """The replica is reachable, a standby, streaming, and within the lag bound (cached for
    CHECK_EVERY seconds: a dead replica costs one failed connect a second, not one a read)."""
    now = time.monotonic()
    checked = _health.get(id(engine))
    if checked is not None and now - checked[0] < CHECK_EVERY:
        return checked[1]
    try:
        with engine.connect() as connection:
            standby, streaming, lag = connection.execute(_HEALTH_SQL).one()
        usable = bool(standby and streaming and lag is not None)
        usable = usable and float(lag) <= current_app.config["REPLICA_MAX_LAG_SECONDS"]
    except Exception:  # noqa: BLE001 - any failure of the replica means: read the primary
        current_app.logger.warning("read replica unusable; reading from the primary", exc_info=True)
        usable = False
    _health[id(engine)] = (now, usable)
    return usable


def forget_health() -> None:
    """Ask the replica again at the next read (tests, and after a configuration change)."""
    _health.clear()


def _replayed(engine, position: str) -> bool:
    """The replica has replayed the primary's WAL up to ``position``."""
    try:
        with engine.connect() as connection:
            return bool(
                connection.execute(
                    text("SELECT pg_last_wal_replay_lsn() >= CAST(:p AS pg_lsn)"), {"p": position}
                ).scalar()
            )
    except Exception:  # noqa: BLE001 - unreadable: the primary answers
        return False


def lagging(view):
    """Let ``view``'s plain reads go to the replica, unless this person wrote something the
    replica has not replayed yet."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        from portal.extensions import db

        replica = db.engines.get(BIND)
        if replica is None:
            return view(*args, **kwargs)
        position = session.get(_POSITION) if not _is_api() else None
        if position is not None:
            if not (healthy(replica) and _replayed(replica, position)):
                return view(*args, **kwargs)
            session.pop(_POSITION, None)  # caught up: this person's writes are all there
        db.session.info[_PREFER] = True
        try:
            return view(*args, **kwargs)
        finally:
            db.session.info.pop(_PREFER, None)

    return wrapper


def _is_api() -> bool:
    return request.blueprint == "api"


def _remember_write(response):
    """After a browser request that wrote: the primary's WAL position, in the session."""
    from portal.extensions import db

    if (
        BIND in db.engines
        and db.session.info.get(_WROTE_ANY)
        and not _is_api()
        and response.status_code < 400
    ):
        session[_POSITION] = db.session.execute(text("SELECT pg_current_wal_lsn()")).scalar()
    return response


def configure(app: Flask) -> None:
    """Before ``db.init_app``: the replica as a bind with the primary's engine options, plus
    a short connect timeout (a replica host that is down must not hold requests)."""
    url = app.config.get("DATABASE_REPLICA_URL")
    if not url:
        return
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        raise RuntimeError("DATABASE_REPLICA_URL needs PostgreSQL as DATABASE_URL too.")
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = dict(options.get("connect_args") or {})
    connect_args.setdefault("connect_timeout", 2)
    binds = dict(app.config.get("SQLALCHEMY_BINDS") or {})
    binds[BIND] = {**options, "url": url, "connect_args": connect_args, "pool_pre_ping": True}
    app.config["SQLALCHEMY_BINDS"] = binds
    _listen()


def init_app(app: Flask) -> None:
    """After every blueprint: wrap the LAGGING views, remember browser writes."""
    if not app.config.get("DATABASE_REPLICA_URL"):
        return
    for endpoint in lagging_endpoints(app):
        app.view_functions[endpoint] = lagging(app.view_functions[endpoint])
    app.after_request(_remember_write)
