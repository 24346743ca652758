"""Sealing the ledger under Merkle anchors, signing them, and proving an entry against them.

A person's chain proves the order of their own entries, but not that none was cut from its
end. The sealer closes that gap: it takes the entries not sealed yet, computes the Merkle
root of their hashes (``merkle``) and writes an anchor that chains to the group's previous
anchor, signed with an Ed25519 key kept outside the database (``LEDGER_SIGNING_KEY``). Once
an anchor is exported or its signature published, an entry under it can neither change nor
disappear unseen, and each entry has a short proof of inclusion (``proof``).

Which entries are sealed is kept per entry (``anchor_id``), not as "everything below id N":
ids are given at insert, so an entry with a lower id can commit after a higher one was
sealed; it is still unsealed, and the next run seals it. One sealer at a time (a PostgreSQL
advisory lock; SQLite has one writer anyway); it skips rows another transaction holds
(an erasure anonymising them) and seals them next time, so it never waits on a request.
"""

import functools
import logging
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app
from sqlalchemy import func, select, update

from portal.core.consent import merkle
from portal.core.consent.models import LedgerAnchor, LedgerEntry
from portal.core.kernel import clock, many
from portal.core.kernel.errors import InvalidInput
from portal.extensions import db

log = logging.getLogger(__name__)

MERKLE, LEGACY = "merkle", "legacy"
# pg_try_advisory_xact_lock key of the sealer: "ledger seal" in ASCII, as an integer.
SEALER_LOCK = int.from_bytes(b"ldgrseal", "big") & (2**63 - 1)


def _iso(moment) -> str:
    return moment.isoformat(timespec="microseconds")


@functools.lru_cache(maxsize=4)
def _private_key(seed_hex: str) -> Ed25519PrivateKey:
    try:
        seed = bytes.fromhex(seed_hex)
        return Ed25519PrivateKey.from_private_bytes(seed)
    except ValueError as error:
        raise InvalidInput(
            "LEDGER_SIGNING_KEY",
            "LEDGER_SIGNING_KEY must be 64 hex digits (an Ed25519 key: flask ledger keygen).",
        ) from error


def signing_key() -> Ed25519PrivateKey | None:
    seed = current_app.config.get("LEDGER_SIGNING_KEY", "")
    return _private_key(seed) if seed else None


def public_key_hex(key: Ed25519PrivateKey | None = None) -> str | None:
    key = key or signing_key()
    if key is None:
        return None
    return key.public_key().public_bytes_raw().hex()


def new_key() -> tuple[str, str]:
    """A new signing key: (private seed, public key), both hex."""
    key = Ed25519PrivateKey.generate()
    return key.private_bytes_raw().hex(), public_key_hex(key)


def as_dict(anchor: LedgerAnchor) -> dict:
    """An anchor as exported and as proofs carry it (``merkle.ANCHOR_FIELDS`` and more)."""
    return {
        "group": anchor.group_id,
        "seq": anchor.seq,
        "kind": anchor.kind,
        "count": anchor.count,
        "root": anchor.root,
        "first_entry": anchor.first_entry,
        "last_entry": anchor.last_entry,
        "prev": anchor.prev_hash,
        "sealed_at": _iso(anchor.sealed_at),
        "hash": anchor.hash,
        "signature": anchor.signature,
        "public_key": anchor.public_key,
    }


def _turn() -> bool:
    """This transaction's turn to seal: False while another sealer (another server) seals."""
    if db.session.get_bind().dialect.name != "postgresql":
        return True
    return db.session.scalar(select(func.pg_try_advisory_xact_lock(SEALER_LOCK)))


def last_anchor(group_id: int) -> LedgerAnchor | None:
    return db.session.scalar(
        select(LedgerAnchor)
        .where(LedgerAnchor.group_id == group_id)
        .order_by(LedgerAnchor.seq.desc())
        .limit(1)
    )


def _unsealed(group_id: int, batch: int):
    """The group's unsealed entries, oldest id first, that no other transaction holds."""
    query = (
        select(LedgerEntry.id, LedgerEntry.hash)
        .where(LedgerEntry.group_id == group_id, LedgerEntry.anchor_id.is_(None))
        .order_by(LedgerEntry.id)
        .limit(batch)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return db.session.execute(query).all()


def _seal_group(group_id: int, batch: int) -> LedgerAnchor | None:
    rows = _unsealed(group_id, batch)
    if not rows:
        return None
    previous = last_anchor(group_id)
    anchor = LedgerAnchor(
        group_id=group_id,
        seq=previous.seq + 1 if previous else 1,
        kind=MERKLE,
        count=len(rows),
        root=merkle.root([row.hash for row in rows]),
        first_entry=rows[0].id,
        last_entry=rows[-1].id,
        prev_hash=previous.hash if previous else "",
        sealed_at=clock.now(),
    )
    fields = as_dict(anchor)
    anchor.hash = merkle.anchor_hash(fields)
    key = signing_key()
    if key is not None:
        anchor.signature = key.sign(merkle.anchor_statement(fields)).hex()
        anchor.public_key = public_key_hex(key)
    db.session.add(anchor)
    db.session.flush()
    db.session.execute(
        update(LedgerEntry)
        .where(many.among(LedgerEntry.id, [row.id for row in rows]))
        .values(anchor_id=anchor.id)
        .execution_options(synchronize_session=False)
    )
    return anchor


def seal(batch: int | None = None, most: int | None = None) -> list[LedgerAnchor]:
    """Seal every entry not sealed yet, one anchor (one transaction) per ``batch`` entries of
    a group, at most ``most`` anchors (None: until none is left); returns the anchors written
    (none while another sealer runs)."""
    batch = batch or current_app.config["LEDGER_SEAL_BATCH"]
    written, passed = [], set()
    while most is None or len(written) < most:
        if not _turn():
            db.session.rollback()
            return written
        group_id = db.session.scalar(
            select(LedgerEntry.group_id)
            .where(LedgerEntry.anchor_id.is_(None), LedgerEntry.group_id.not_in(passed))
            .order_by(LedgerEntry.group_id)
            .limit(1)
        )
        anchor = None if group_id is None else _seal_group(group_id, batch)
        if anchor is None:
            db.session.rollback()
            if group_id is None:
                return written
            passed.add(group_id)  # every unsealed row held elsewhere: next run
            continue
        db.session.commit()
        log.info("ledger sealed", extra={"group": group_id, "anchor": anchor.seq})
        written.append(anchor)
    return written


_sealed_at = {"last": None}
PER_PASS = 10


def seal_due(seconds: float) -> list[LedgerAnchor]:
    """``seal``, when this process has not sealed in the last ``seconds`` (the mail worker's
    loop calls it on every pass; the advisory lock keeps the other workers out meanwhile).
    At most ``PER_PASS`` anchors, so that a backlog (the rows from before the upgrade) is
    sealed over several passes instead of holding up the mail for one long pass."""
    now = time.monotonic()
    if _sealed_at["last"] is not None and now - _sealed_at["last"] < seconds:
        return []
    _sealed_at["last"] = now
    return seal(most=PER_PASS)


def anchors_of(group_id: int | None = None) -> list[LedgerAnchor]:
    query = select(LedgerAnchor).order_by(LedgerAnchor.group_id, LedgerAnchor.seq)
    if group_id is not None:
        query = query.where(LedgerAnchor.group_id == group_id)
    return list(db.session.scalars(query))


def export(group_id: int | None = None) -> dict:
    """The anchors as a JSON-ready document, to keep outside the portal (``ledger verify
    --anchors`` compares the database with it)."""
    return {
        "format": "portal-ledger-anchors/1",
        "exportedAt": _iso(clock.now()),
        "publicKey": public_key_hex(),
        "anchors": [as_dict(anchor) for anchor in anchors_of(group_id)],
    }


def proofs(entries: list[LedgerEntry]) -> dict[int, dict]:
    """The inclusion proof of each entry, by entry id: where it sits under its anchor and the
    sibling hashes up to the anchor's root, with the anchor itself; ``{"sealed": False}`` for
    an entry not sealed yet. Each anchor's leaves are read once."""
    leaves: dict[int, list[tuple[int, str]]] = {}
    anchors: dict[int, LedgerAnchor] = {}
    found = {}
    for entry in entries:
        if entry.anchor_id is None:
            found[entry.id] = {"sealed": False, "entryHash": entry.hash}
            continue
        if entry.anchor_id not in leaves:
            leaves[entry.anchor_id] = db.session.execute(
                select(LedgerEntry.id, LedgerEntry.hash)
                .where(LedgerEntry.anchor_id == entry.anchor_id)
                .order_by(LedgerEntry.id)
            ).all()
            anchors[entry.anchor_id] = db.session.get(LedgerAnchor, entry.anchor_id)
        rows = leaves[entry.anchor_id]
        index = [row.id for row in rows].index(entry.id)
        found[entry.id] = {
            "sealed": True,
            "entryHash": entry.hash,
            "leafIndex": index,
            "path": merkle.path([row.hash for row in rows], index),
            "anchor": as_dict(anchors[entry.anchor_id]),
        }
    return found


def unsealed_count() -> int:
    return db.session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.anchor_id.is_(None))
    )
