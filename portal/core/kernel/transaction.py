"""One state change, one transaction: commit at the end of the block, roll back on any error."""

from contextlib import contextmanager

from portal import reading
from portal.extensions import db


@contextmanager
def commit_session(keep_loaded: bool = False):
    """Commit the whole session at the end of the block, or roll all of it back on any error.

    Everything the session holds is committed, not only what the block did: rows written and
    locks taken before the block (``consent.lock``) end with it. A nested block commits early;
    so a change is one ``with commit_session():`` around all of it, in the core only.

    With ``keep_loaded``, the objects the session had loaded keep the values they were read
    with after the commit, instead of being read again on their next use: for a block that
    only adds rows (a sign-up's request), whose page then shows the brand and the group it
    read before, at no query more.
    """
    session = db.session()
    expiring = session.expire_on_commit
    session.expire_on_commit = not keep_loaded
    try:
        yield db.session
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        session.expire_on_commit = expiring


def reads_only() -> bool:
    """What follows only reads: on PostgreSQL its statements run without a transaction around
    them (autocommit), which saves the BEGIN and the closing ROLLBACK, two of the three network
    round trips of a lookup, and hot paths may read through ``read`` without the session at
    all (``reading``). Each statement still reads one consistent snapshot. A write would
    commit statement by statement: only for work that writes nothing but single statements
    (an API client's last use, which commits on its own as it would have). Only before the
    session's first statement: a session holding a connection keeps it (False).
    """
    if db.engine.dialect.name != "postgresql":
        return False
    if db.session.registry.has():
        begun = db.session().get_transaction()
        if begun is not None and begun._connections:
            return False
    reading.begin()
    return True


def end_reads() -> None:
    """End what ``reads_only`` began: its connections go back to the pool, and the session's
    next statement takes a connection in a transaction again."""
    reading.end()
    if db.session.registry.has():
        db.session.rollback()


def read(statement, params: dict) -> list:
    """Every row of ``statement`` (a statement built once and kept: its SQL is compiled once),
    on the connection the session would choose for it (a read replica when the view allows):
    without the session while reading only (``reading.rows``), else through it."""
    engine = db.engine if len(db.engines) == 1 else db.session.get_bind(clause=statement)
    found = reading.rows(engine, statement, params)
    if found is None:
        connection = db.session.connection(bind_arguments={"clause": statement})
        found = connection.execute(statement, params).all()
    return found
