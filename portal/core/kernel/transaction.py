"""One state change, one transaction: commit at the end of the block, roll back on any error."""

from contextlib import contextmanager

from portal.extensions import db


@contextmanager
def transaction():
    try:
        yield db.session
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
