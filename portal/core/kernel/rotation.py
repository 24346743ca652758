"""Re-encrypt personal data under the current data key, in batches, while the portal serves.

Run after setting a new PORTAL_DATA_KEY with the previous one in PORTAL_OLD_DATA_KEYS. People's
own keys (``subject_keys``) are wrapped again under the new key in the key store, their data
untouched; the rest (rows under the data key itself) are read with whichever key wrote them
and written back under the current one, a batch per transaction. When it reports nothing left,
the old key can be removed from the configuration.
"""

from sqlalchemy import LargeBinary, select, type_coerce, update

from portal.core.kernel import subject_keys
from portal.core.kernel.crypto import Encrypted, keys
from portal.extensions import db


def _encrypted_models():
    for mapper in db.Model.registry.mappers:
        columns = [c for c in mapper.columns if isinstance(c.type, Encrypted)]
        if columns:
            yield mapper.class_, columns


def _stale(value) -> bool:
    return value is not None and not keys().is_current(bytes(value))


def _rewrite(model, columns, row) -> bool:
    """Write ``row``'s stale values back under the current key, only if they are still what
    was read: a value the portal changed meanwhile is under the current key already and must
    not be overwritten with the older one, and a row deleted meanwhile is left deleted."""
    row_id, values = row[0], row[1:]
    stale = [(column, bytes(v)) for column, v in zip(columns, values, strict=True) if _stale(v)]
    raw = {column: type_coerce(column, LargeBinary) for column, _ in stale}
    statement = (
        update(model.__table__)
        .where(model.__table__.c.id == row_id, *(raw[c] == old for c, old in stale))
        .values(
            {
                column: type_coerce(keys().encrypt(keys().decrypt(old)), LargeBinary)
                for column, old in stale
            }
        )
    )
    return db.session.execute(statement).rowcount == 1


def rotate(batch: int = 500, progress=None) -> dict[str, int]:
    """Re-encrypt every row not yet under the current key; returns rows rewritten per table.

    Each value is decrypted and encrypted again in Python and written with a compare-and-set
    on its ciphertext, so requests reading and writing the same rows meanwhile lose nothing.
    """
    # Each person's own key is only wrapped again: seconds, however much data is under it.
    rewritten = {"subject_key": subject_keys.store().rewrap()}
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
            count += sum(_rewrite(model, columns, row) for row in rows if any(map(_stale, row[1:])))
            db.session.commit()
            if progress:
                progress(model.__tablename__, count)
        rewritten[model.__tablename__] = count
    return rewritten


def remaining() -> int:
    """Rows (and people's keys) still under an older key."""
    left = subject_keys.store().stale()
    for _model, columns in _encrypted_models():
        raw = [type_coerce(column, LargeBinary) for column in columns]
        for row in db.session.execute(select(*raw)):
            left += any(_stale(v) for v in row)
    return left
