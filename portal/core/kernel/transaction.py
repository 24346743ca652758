"""One state change, one transaction: commit at the end of the block, roll back on any error."""

from contextlib import contextmanager

from portal.extensions import db


@contextmanager
def commit_session():
    """Commit the whole session at the end of the block, or roll all of it back on any error.

    Everything the session holds is committed, not only what the block did: rows written and
    locks taken before the block (``consent.lock``) end with it. A nested block commits early;
    so a change is one ``with commit_session():`` around all of it, in the core only.
    """
    try:
        yield db.session
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
