"""Each person's own data key, kept in a key store apart from the data (crypto-shredding).

Everything that names or describes a person is encrypted under a random key of their own
(``crypto.seal_personal``). Those keys live in a small store of their own (a SQLite file next
to the database, or a PostgreSQL database of its own: ``PORTAL_KEYS_URL``), each wrapped by
the portal's data key. Erasing a person deletes their key: whatever copy of their rows is left
(dead row versions, WAL, a backup of the data) can no longer be read. The store holds random
references and wrapped keys only, never a subject id or an address, so a copy of it alone says
nothing about anyone.

Keys created and deleted in a transaction are written to the store when the session commits,
just before the data (``before_commit``): a crash between the two leaves either a key nobody
uses (harmless) or a person whose key is gone but whose rows are still there, unreadable, which
``flask erasures reconcile`` finishes erasing, as after a restore of an older data backup.

Some rows about a person are written before the person exists, or outlive them: a sign-up
request typed by a stranger, the farewell mail after an erasure, an idempotent answer, an
import file waiting to be imported. Each of those goes under a **one-off key** of its own
(``seal_one_off``), kept in a table of its own (``row_key``), and deleted when the row is used
or purged (``drop_one_off``): its bytes are then unreadable wherever they are. That table stays
small (only rows waiting for their use), so rewriting it (``flask lifecycle run``, and every
erasure) costs little; a drop alone does not rewrite it at once.
"""

import os
import threading
import time
import weakref
from collections import OrderedDict
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app, has_app_context
from sqlalchemy import (
    Column,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session, object_session
from sqlalchemy.pool import StaticPool

from portal.core.kernel.crypto import KeyMissing, Keys, Sealed, personal_ref, seal_personal

__all__ = ["KeyMissing", "KeyStore", "WrongKey"]

_NEW, _DROP, _ENTRIES = "portal.keys.new", "portal.keys.drop", "portal.keys.entries"
_CACHE_SIZE = 50_000
_WRITE_BATCH = 5000
_DATA_CHECK = b"portal:data-key-check"

metadata = MetaData()
subject_key = Table(
    "subject_key",
    metadata,
    Column("ref", String(32), primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
)
# One-off keys: a key for one row (a request, a mail, a file) rather than one person.
row_key = Table(
    "row_key",
    metadata,
    Column("ref", String(32), primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
)
key_check = Table(
    "key_check",
    metadata,
    Column("name", String(20), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)


class WrongKey(RuntimeError):
    """A configured key is not the one this installation's data was written under."""


def default_url(database_url: str, instance: str) -> str:
    """Beside a SQLite database, a file of its own next to it; otherwise in instance/."""
    if database_url in ("sqlite://", "sqlite:///:memory:"):
        return "sqlite://"
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        return f"sqlite:///{path.with_name(path.stem + '-keys' + path.suffix)}"
    return f"sqlite:///{Path(instance) / 'keys.sqlite3'}"


def _engine(url: str):
    if url.startswith("postgresql:"):
        url = "postgresql+psycopg:" + url.removeprefix("postgresql:")
    if url == "sqlite://":
        return create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(connection, _record):
            cursor = connection.cursor()
            # Deleted keys are overwritten with zeros in the file, not merely unlinked.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

    return engine


class KeyStore:
    """The key store of one installation, with a cache of unwrapped keys per process."""

    opened: "weakref.WeakSet[KeyStore]" = weakref.WeakSet()  # for tests to close them all

    def __init__(self, url: str, keys: Keys, cache_seconds: float = 30.0):
        self.url = url
        self.engine = _engine(url)
        KeyStore.opened.add(self)
        self.started_with = keys  # the keys the app was made with
        # An unwrapped key is kept this long at most (PORTAL_KEY_CACHE_SECONDS): a person
        # erased by another process has their key deleted from the store, and this process
        # stops holding it (and serving their data) within that time. 0: never kept.
        self.cache_seconds = cache_seconds
        # Raw key bytes, not AESGCM objects: each of those holds about 2.5 KB of OpenSSL
        # context, so 50,000 cached keys (or an import's 100,000 new ones) would be 125 MB
        # (250 MB); making one per use costs about 3 microseconds.
        self._cache: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        # Keys made by transactions not yet committed: not in the store yet, so never expired.
        self._pending: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @property
    def keys(self) -> Keys:
        # The app's keys as they are now (a test may swap them, as a restart would).
        if has_app_context() and current_app.extensions.get("portal.subject_keys") is self:
            return current_app.extensions["portal.keys"]
        return self.started_with

    # -- set-up and start-up check --------------------------------------------------------

    def prepare(self) -> None:
        """Make the store's tables if needed, then check the configured keys against the check
        values written at the first start: a wrong key refuses to start, naming it."""
        try:
            self._prepare()
        except WrongKey:
            self.engine.dispose()
            raise

    def _prepare(self) -> None:
        metadata.create_all(self.engine)
        with self.engine.begin() as connection:
            stored = dict(connection.execute(select(key_check.c.name, key_check.c.value)).all())
            if "data" in stored:
                try:
                    self.keys.decrypt_bytes(bytes(stored["data"]))
                except (InvalidTag, ValueError):
                    raise WrongKey(
                        "PORTAL_DATA_KEY is not the key this installation's data is encrypted "
                        f"under (its check value in the key store {self._where()} does not open "
                        "with it, nor with PORTAL_OLD_DATA_KEYS). Set the right key; after a "
                        "change of key, put the previous one in PORTAL_OLD_DATA_KEYS."
                    ) from None
            else:
                self._write_check(connection, "data", self.keys.encrypt_bytes(_DATA_CHECK))
            hash_check = self.keys.hash_check().encode()
            if "hash" not in stored:
                self._write_check(connection, "hash", hash_check)
            elif bytes(stored["hash"]) != hash_check:
                raise WrongKey(
                    "PORTAL_HASH_KEY is not the key this installation's addresses were hashed "
                    f"with (its check value in the key store {self._where()} differs): nobody "
                    "could be found by address. Set the right key."
                )

    def write_checks(self, keys: Keys | None = None) -> None:
        """Write the check values of ``keys`` (default: the configured ones), replacing any."""
        keys = keys or self.keys
        with self.engine.begin() as connection:
            self._write_check(connection, "data", keys.encrypt_bytes(_DATA_CHECK))
            self._write_check(connection, "hash", keys.hash_check().encode())

    def _where(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @staticmethod
    def _write_check(connection, name: str, value: bytes) -> None:
        connection.execute(delete(key_check).where(key_check.c.name == name))
        connection.execute(insert(key_check).values(name=name, value=value))

    # -- keys -------------------------------------------------------------------------------

    def _wrap(self, ref: str, raw: bytes) -> bytes:
        return self.keys.encrypt_bytes(raw, context=ref.encode())

    def _remember(self, ref: str, raw: bytes) -> None:
        if self.cache_seconds <= 0:
            return
        with self._lock:
            self._cache[ref] = (time.monotonic(), raw)
            self._cache.move_to_end(ref)
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)

    def _cached(self, ref: str) -> bytes | None:
        with self._lock:
            pending = self._pending.get(ref)
            if pending is not None:
                return pending
            found = self._cache.get(ref)
            if found is None:
                return None
            if time.monotonic() - found[0] > self.cache_seconds:
                del self._cache[ref]  # read it again: it may have been deleted meanwhile
                return None
            return found[1]

    def forget_all(self) -> None:
        """Empty the cache of unwrapped keys (the next reads unwrap them from the store)."""
        with self._lock:
            self._cache.clear()

    def forget(self, ref: str) -> None:
        with self._lock:
            self._cache.pop(ref, None)
            self._pending.pop(ref, None)

    def _settle(self, refs) -> None:
        """Keys just written to the store: from pending to the (expiring) cache."""
        for ref in refs:
            with self._lock:
                raw = self._pending.pop(ref, None)
            if raw is not None:
                self._remember(ref, raw)

    def aead(self, ref: str) -> AESGCM:
        """The person's key, unwrapped; KeyMissing once it was deleted."""
        found = self._cached(ref)
        if found is not None:
            return AESGCM(found)
        with self.engine.connect() as connection:
            wrapped = connection.scalar(
                select(subject_key.c.wrapped)
                .where(subject_key.c.ref == ref)
                .union_all(select(row_key.c.wrapped).where(row_key.c.ref == ref))
            )
        if wrapped is None:
            raise KeyMissing(ref)
        raw = self.keys.decrypt_bytes(bytes(wrapped), context=ref.encode())
        self._remember(ref, raw)
        return AESGCM(raw)

    def prefetch(self, refs) -> None:
        """Read and unwrap the keys ``refs`` not cached yet, a few hundred per query, into
        the cache (a reader of many people's rows, such as ``flask ledger verify``, would
        otherwise ask the store once per person). A ref with no key is left out: ``aead``
        raises KeyMissing for it as before."""
        if self.cache_seconds <= 0:
            return
        wanted = sorted(ref for ref in refs if self._cached(ref) is None)
        with self.engine.connect() as connection:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                for ref, wrapped in connection.execute(
                    select(subject_key.c.ref, subject_key.c.wrapped).where(
                        subject_key.c.ref.in_(chunk)
                    )
                ):
                    raw = self.keys.decrypt_bytes(bytes(wrapped), context=ref.encode())
                    self._remember(ref, raw)

    def openers(self, refs) -> dict[str, AESGCM]:
        """The keys of ``refs`` unwrapped, each made into one AESGCM (read as ``prefetch``
        reads them): for a reader of many rows per person, such as ``flask ledger verify``,
        which would otherwise make one per row. A ref with no key is left out."""
        self.prefetch(refs)
        found = {}
        for ref in refs:
            raw = self._cached(ref)
            if raw is None:  # not kept (PORTAL_KEY_CACHE_SECONDS=0), or gone
                try:
                    found[ref] = self.aead(ref)
                except KeyMissing:
                    continue
            else:
                found[ref] = AESGCM(raw)
        return found

    def existing(self, refs: list[str]) -> set[str]:
        """Which of ``refs`` still have a key in the store."""
        found = set()
        with self.engine.connect() as connection:
            for start in range(0, len(refs), 500):
                chunk = refs[start : start + 500]
                found.update(
                    connection.scalars(
                        select(subject_key.c.ref).where(subject_key.c.ref.in_(chunk))
                    )
                )
        return found

    def count(self) -> int:
        with self.engine.connect() as connection:
            return len(connection.scalars(select(subject_key.c.ref)).all())

    def write(self, new, dropped: set[str], one_off: frozenset = frozenset()):
        """Add and delete keys in one transaction of the store: ``new``, (ref, wrapped key)
        pairs (a dict's items, or made as they are read), are inserted 5,000 at a time, so an
        import of 100,000 people never holds all their rows at once. Refs in ``one_off`` are
        one-off keys (``row_key``); a drop of one never touches a person's key."""
        with self.engine.begin() as connection:
            people = sorted(r for r in dropped if r not in one_off)
            rows = sorted(r for r in dropped if r in one_off)
            if people:
                connection.execute(delete(subject_key).where(subject_key.c.ref.in_(people)))
            if rows:
                connection.execute(delete(row_key).where(row_key.c.ref.in_(rows)))
            waiting = {subject_key: [], row_key: []}
            for ref, wrapped in new.items() if isinstance(new, dict) else new:
                values = waiting[row_key if ref in one_off else subject_key]
                values.append({"ref": ref, "wrapped": wrapped})
                if len(values) >= _WRITE_BATCH:
                    connection.execute(insert(row_key if ref in one_off else subject_key), values)
                    values.clear()
            for table, values in waiting.items():
                if values:
                    connection.execute(insert(table), values)

    def compact(self, people: bool = True) -> None:
        """Rewrite the key tables so no old version of a deleted key stays in their files: a
        ``VACUUM FULL`` on PostgreSQL (dead row versions survive a plain VACUUM), ``VACUUM`` on
        SQLite (with ``secure_delete`` on, freed pages are zeroed too). ``people=False``: the
        small table of one-off keys alone."""
        if self.engine.dialect.name == "postgresql":
            tables = "subject_key, row_key" if people else "row_key"
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text(f"VACUUM FULL {tables}"))
        else:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("VACUUM")

    def rewrap(self, batch: int = 1000) -> int:
        """Wrap every key under the current data key (a rotation of PORTAL_DATA_KEY): the
        people's own keys stay the same, so no data row is rewritten. Returns keys rewrapped."""
        done = sum(self._rewrap(table, batch) for table in (subject_key, row_key))
        self.write_checks()
        return done

    def _rewrap(self, table, batch: int) -> int:
        done, last = 0, ""
        while True:
            with self.engine.begin() as connection:
                rows = connection.execute(
                    select(table.c.ref, table.c.wrapped)
                    .where(table.c.ref > last)
                    .order_by(table.c.ref)
                    .limit(batch)
                ).all()
                if not rows:
                    return done
                last = rows[-1][0]
                for ref, wrapped in rows:
                    if self.keys.is_current(bytes(wrapped)):
                        continue
                    raw = self.keys.decrypt_bytes(bytes(wrapped), context=ref.encode())
                    connection.execute(
                        update(table)
                        .where(table.c.ref == ref, table.c.wrapped == wrapped)
                        .values(wrapped=self._wrap(ref, raw))
                    )
                    done += 1

    def stale(self) -> int:
        """Keys still wrapped under an older data key."""
        with self.engine.connect() as connection:
            rows = connection.scalars(
                select(subject_key.c.wrapped).union_all(select(row_key.c.wrapped))
            ).all()
        return sum(not self.keys.is_current(bytes(w)) for w in rows)


def store() -> KeyStore:
    return current_app.extensions["portal.subject_keys"]


def new_key(session, one_off: bool = False) -> str:
    """A new person's key (or a one-off key), written to the store when ``session`` commits;
    its reference."""
    ref, raw = os.urandom(16).hex(), AESGCM.generate_key(bit_length=256)
    keystore = store()
    # Wrapped at the commit (``_write_keys``): until then only the raw bytes are held, in
    # ``_pending``; the entry (its transaction, whether one-off) is one tuple for all the keys
    # of a transaction, so an import of 100,000 people holds little more than their keys.
    transaction = _innermost(session)
    entries = session.info.setdefault(_ENTRIES, {})
    entry = entries.get((id(transaction), one_off))
    if entry is None or entry[0] is not transaction:
        entry = entries[(id(transaction), one_off)] = (transaction, one_off)
    session.info.setdefault(_NEW, {})[ref] = entry
    with keystore._lock:
        keystore._pending[ref] = raw
    return ref


def discard(session, ref: str) -> None:
    """Forget a key made in this transaction and never used."""
    session.info.get(_NEW, {}).pop(ref, None)
    store().forget(ref)


def delete_key(session, ref: str | None) -> None:
    """Delete a person's key when ``session`` commits, before the data (see the module)."""
    if ref is None:
        return
    # Still usable until the commit: what the erasure itself writes (the withdrawals' ledger
    # entries) is sealed under it, and goes with it.
    session.info.setdefault(_DROP, {})[ref] = (_innermost(session), False)


def seal_one_off(session, plaintext: str | None):
    """``plaintext`` under a one-off key of its own (see the module), made in this
    transaction; ``drop_one_off`` deletes it once the row is used."""
    if plaintext is None:
        return None
    return seal(new_key(session, one_off=True), plaintext)


def sealed_refs(session, column, *where) -> list[str]:
    """The key references of ``column``'s values in the rows ``where`` selects, read from the
    head of each ciphertext (values under the data key have none)."""
    head = func.substr(type_coerce(column, LargeBinary), 1, 17)
    found = (personal_ref(bytes(v)) for v in session.scalars(select(head).where(*where)) if v)
    return [ref for ref in found if ref is not None]


def drop_one_off(session, refs) -> None:
    """Delete these one-off keys when ``session`` commits (a person's key is never touched:
    only the table of one-off keys is)."""
    for ref in refs:
        session.info.setdefault(_DROP, {})[ref] = (_innermost(session), True)


def seal(ref: str | None, plaintext: str | None):
    """``plaintext`` under the person's key ``ref``, for a personal column. Without a key (a
    person not yet given one, see ``flask keys per-person``) it goes under the data key."""
    if plaintext is None or ref is None:
        return plaintext
    return seal_personal(ref, store().aead(ref), plaintext)


def is_sealed(value) -> bool:
    return isinstance(value, Sealed)


def _innermost(session):
    session = session() if hasattr(session, "registry") else session  # a scoped session
    return session.get_nested_transaction() or session.get_transaction()


def _within(transaction, outer) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "before_commit")
def _write_keys(session):
    if has_app_context():
        # The commit's own flush comes after this event: rows it would insert make their keys
        # then (``one_off_columns``, a new subject), too late for the store. Flush first.
        session.flush()
    new, dropped = session.info.pop(_NEW, None) or {}, session.info.pop(_DROP, None) or {}
    session.info.pop(_ENTRIES, None)
    if (new or dropped) and has_app_context():
        one_off = frozenset(
            [r for r, (_, once) in new.items() if once]
            + [r for r, (_, once) in dropped.items() if once]
        )
        keystore = store()
        wrapped = (
            (ref, keystore._wrap(ref, keystore._pending[ref])) for ref in new if ref not in dropped
        )
        keystore.write(wrapped, set(dropped), one_off)
        keystore._settle(ref for ref in new if ref not in dropped)
        if dropped:
            # A person's key deleted: the store is rewritten at once (see _compact); one-off
            # keys wait for the next `flask lifecycle run`, which rewrites their small table.
            people = any(not once for _, once in dropped.values())
            session.info["portal.keys.dropped"] = (set(dropped), people)


@event.listens_for(Session, "after_commit")
def _compact(session):
    dropped, people = session.info.pop("portal.keys.dropped", None) or ((), False)
    if dropped and has_app_context():
        for ref in dropped:  # no copy left in this process's memory either
            store().forget(ref)
        if not people:
            return
        try:
            store().compact()
        except Exception:  # noqa: BLE001 - the erasure stands; `flask keys compact` retries
            current_app.logger.warning("key store compaction failed; run `flask keys compact`")


@event.listens_for(Session, "after_rollback")
def _forget_pending(session):
    """A rolled-back transaction (or savepoint) creates and deletes no key; but keys the key
    store already deleted (the data's commit failed after it) are gone for this process too,
    as for every other: the person is left for `flask erasures reconcile`."""
    for ref in (session.info.pop("portal.keys.dropped", None) or ((), False))[0]:
        if has_app_context():
            store().forget(ref)
    undone = session._transaction  # the transaction (or savepoint) being rolled back
    if undone is None or undone.parent is None:
        session.info.pop(_ENTRIES, None)
    for name in (_NEW, _DROP):
        pending = session.info.get(name)
        if not pending:
            continue
        for ref in [r for r, v in pending.items() if _within(_tx(v), undone) or undone is None]:
            del pending[ref]
            if name == _NEW and has_app_context():
                store().forget(ref)


def _tx(value):
    return value[0] if isinstance(value, tuple) else value


def personal_columns(model, fields: tuple[str, ...], ref_of) -> None:
    """Let ORM writes of ``model``'s ``fields`` (plain ``str``) go under the person's own key:
    ``ref_of(target, connection)`` names it (None: the data key, for people without one).

    The value is sealed just before the row is written and the plain text put back after, so
    code keeps reading and writing ``str``.
    """

    def _seal(_mapper, connection, target):
        plain = {}
        for name in fields:
            value = target.__dict__.get(name)
            if isinstance(value, str) and not isinstance(value, Sealed):
                ref = ref_of(target, connection)
                if ref is None:
                    return
                plain[name] = value
                setattr(target, name, seal(ref, value))
        if plain:
            target.__dict__.setdefault("_portal_plain", {}).update(plain)

    def _unseal(_mapper, _connection, target):
        from sqlalchemy.orm.attributes import set_committed_value

        for name, value in target.__dict__.pop("_portal_plain", {}).items():
            set_committed_value(target, name, value)

    event.listen(model, "before_insert", _seal)
    event.listen(model, "before_update", _seal)
    event.listen(model, "after_insert", _unseal)
    event.listen(model, "after_update", _unseal)


def one_off_columns(model, fields: tuple[str, ...], owner=lambda target: None) -> None:
    """Let new rows of ``model`` put ``fields`` under a one-off key of their own, unless
    ``owner(target)`` names a person (then ``personal_columns`` puts them under that person's
    key). Only inserts: the key is made with the row, and dropped by the code that uses or
    purges the row (``drop_one_off``)."""

    def _seal(_mapper, _connection, target):
        if owner(target) is not None:
            return
        plain = {}
        for name in fields:
            value = target.__dict__.get(name)
            if isinstance(value, str) and not isinstance(value, Sealed):
                plain[name] = value
                setattr(target, name, seal_one_off(object_session(target), value))
        if plain:
            target.__dict__.setdefault("_portal_plain", {}).update(plain)

    def _unseal(_mapper, _connection, target):
        from sqlalchemy.orm.attributes import set_committed_value

        for name, value in target.__dict__.pop("_portal_plain", {}).items():
            set_committed_value(target, name, value)

    event.listen(model, "before_insert", _seal)
    event.listen(model, "after_insert", _unseal)
