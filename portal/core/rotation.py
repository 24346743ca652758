"""Re-encrypt personal data under the current data key, in batches, while the portal serves.

Run after setting a new PORTAL_DATA_KEY with the previous one in PORTAL_OLD_DATA_KEYS: rows
are read with whichever key wrote them and written back under the current one, a batch per
transaction. When it reports nothing left, the old key can be removed from the configuration.
"""

from sqlalchemy import LargeBinary, select, type_coerce
from sqlalchemy.orm.attributes import flag_modified

from portal.core.crypto import Encrypted, keys
from portal.extensions import db


def _encrypted_models():
    for mapper in db.Model.registry.mappers:
        columns = [c for c in mapper.columns if isinstance(c.type, Encrypted)]
        if columns:
            yield mapper.class_, columns


def rotate(batch: int = 500, progress=None) -> dict[str, int]:
    """Re-encrypt every row not yet under the current key; returns rows rewritten per table."""
    rewritten = {}
    for model, columns in _encrypted_models():
        count, last_id = 0, None
        raw = [type_coerce(column, LargeBinary) for column in columns]
        while True:
            query = select(model.id, *raw).order_by(model.id).limit(batch)
            if last_id is not None:
                query = query.where(model.id > last_id)
            rows = db.session.execute(query).all()
            if not rows:
                break
            last_id = rows[-1][0]
            stale = [
                row[0]
                for row in rows
                if any(v is not None and not keys().is_current(bytes(v)) for v in row[1:])
            ]
            for row_id in stale:
                instance = db.session.get(model, row_id)
                if instance is None:  # deleted meanwhile (an erasure): nothing to rewrite
                    continue
                for column in columns:
                    flag_modified(instance, column.key)
            db.session.commit()
            db.session.expunge_all()
            count += len(stale)
            if progress:
                progress(model.__tablename__, count)
        rewritten[model.__tablename__] = count
    return rewritten


def remaining() -> int:
    """Rows still holding data under an older key."""
    left = 0
    for _model, columns in _encrypted_models():
        raw = [type_coerce(column, LargeBinary) for column in columns]
        for row in db.session.execute(select(*raw)):
            left += any(v is not None and not keys().is_current(bytes(v)) for v in row)
    return left
