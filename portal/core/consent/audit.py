"""`flask ledger verify`: every person's chain, the old group chains, every anchor.

What is checked, and what it catches:

- each person's chain (``chain``, positions 1, 2, ...): every entry's hash recomputed, every
  link to the previous entry, its personal part against the digest the hash covers; an entry
  edited, removed or inserted breaks it at that point;
- every entry of a chain is about one and the same person, or is one erasure's anonymous
  proof; an entry that names a person must carry that person's personal part, which its digest
  ties to their id: an entry anonymised at an erasure and then attached to someone else has
  none (and cannot be given one: the digest binds the erased person's id and a secret salt);
- the entries written before per-person chains: the group's old chain, and its head against
  the one the upgrade recorded in the group's first (legacy) anchor;
- each group's anchors: their own chain, each one's hash (and signature, given the public
  key), and the Merkle root and count of the entries sealed under it, so an entry cut from
  the end of a person's chain, once sealed, is missed;
- given an exported anchor file (``anchors.export``): every anchor in it is still in the
  database, unchanged, so cutting whole anchors with their entries is caught too.

The work is split into ranges of chains (by the first hex digit of their random ids, so the
ranges are even) and of anchors, checked by ``jobs`` processes at once, each with its own
database connections.
"""

import json
import multiprocessing
from collections import namedtuple
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import LargeBinary, select, type_coerce

from portal.core.consent import ledger, merkle
from portal.core.consent.anchors import LEGACY, MERKLE, as_dict
from portal.core.consent.models import LedgerAnchor, LedgerEntry
from portal.core.kernel import subject_keys
from portal.core.kernel.crypto import KeyMissing, keys, personal_ref
from portal.core.kernel.models.group import SiteGroup
from portal.extensions import db

HEX = "0123456789abcdef"


@dataclass(frozen=True)
class Break:
    """Where verification failed: ``where`` names the chain or anchor, ``position`` the entry's
    place in it, ``entry_id`` the row (0 when the row itself is missing)."""

    where: str
    position: int
    entry_id: int
    reason: str

    def __str__(self) -> str:
        row = f" (row id {self.entry_id})" if self.entry_id else ""
        return f"{self.where}, entry {self.position}{row}: {self.reason}"


@dataclass
class Report:
    entries: int = 0
    chains: int = 0
    anchors: int = 0
    breaks: list[Break] = field(default_factory=list)

    def add(self, other: "Report") -> None:
        self.entries += other.entries
        self.chains += other.chains
        self.anchors += other.anchors
        self.breaks.extend(other.breaks)

    @property
    def first(self) -> Break | None:
        """The break at the lowest row id (a missing row, or an anchor, after any row)."""
        if not self.breaks:
            return None
        return min(self.breaks, key=lambda b: (b.entry_id or 2**63, b.where))


# Plain rows, not ORM objects: millions of them pass, none is kept, and the caller's session
# (and what it holds) is left alone. ``sealed_personal``: the stored bytes, to tell a personal
# part that is not there from one that cannot be read; they are opened in ``_stream``, after
# the keys of a whole batch of rows were read at once.
_TABLE = LedgerEntry.__table__
_ROW = (
    *(column for column in _TABLE.c if column.key != "personal"),
    type_coerce(_TABLE.c.personal, LargeBinary).label("sealed_personal"),
)


def _entry_problem(entry, sealed: bytes | None) -> str | None:
    """What is wrong with one entry on its own (its hash, its personal part, its person)."""
    if entry.subject_id is None and entry.erasure_id is None:
        return "belongs to no person and to no erasure"
    if entry.subject_id is not None:
        if entry.erasure_id is not None:
            return "anonymised at an erasure, yet attached to a person"
        if sealed is None and entry.personal_salt is None:
            return "anonymised at an erasure and attached to another person"
        if sealed is not None and entry.personal is None:
            return "its personal part cannot be read (key missing: flask erasures reconcile)"
    if entry.personal is not None:
        if ledger.digest_of(entry) != entry.personal_digest:
            return "subject, IP, user agent or evidence was changed"
    elif entry.personal_salt is not None:
        digest = ledger.personal_digest(
            entry.personal_salt, entry.subject_id, entry.ip, entry.user_agent
        )
        if digest != entry.personal_digest:
            return "subject, IP or user agent was changed"
    if ledger.entry_hash(entry) != entry.hash:
        return "content was changed"
    return None


class _Walk:
    """One chain read in order: each entry against the one before it."""

    def __init__(self, where: str, owner_of=lambda e: (e.subject_id, e.erasure_id)):
        self.where, self.owner_of = where, owner_of
        self.position, self.previous, self.owner, self.broken = 0, "", None, None

    def step(self, entry, sealed, position: int) -> Break | None:
        if self.broken:
            return None
        expected = self.position + 1
        problem = None
        if position != expected:
            problem = f"entry {expected} is missing" if position > expected else "a copy"
        elif entry.prev_hash != self.previous:
            problem = "does not follow the previous entry"
        elif self.owner_of and self.position and self.owner_of(entry) != self.owner:
            problem = "is about someone other than the rest of its chain"
        else:
            problem = _entry_problem(entry, sealed)
        self.position, self.previous = position, entry.hash
        if self.owner_of and self.owner is None:
            self.owner = self.owner_of(entry)
        if problem:
            row = 0 if "missing" in problem else entry.id
            self.broken = Break(self.where, expected, row, problem)
        return self.broken


def _chains(group_id: int | None, low: str, high: str | None) -> Report:
    """Check the chains whose ids fall in [low, high)."""
    report = Report()
    query = select(*_ROW).where(LedgerEntry.chain >= low)
    if high is not None:
        query = query.where(LedgerEntry.chain < high)
    if group_id is not None:
        query = query.where(LedgerEntry.group_id == group_id)
    query = query.order_by(LedgerEntry.chain, LedgerEntry.chain_seq)
    walk = None
    for entry, sealed in _stream(query):
        if walk is None or walk.where != f"chain {entry.chain}":
            walk = _Walk(f"chain {entry.chain}")
            report.chains += 1
        report.entries += 1
        broken = walk.step(entry, sealed, entry.chain_seq)
        if broken:
            report.breaks.append(broken)
    return report


def _legacy(group_id: int) -> Report:
    """The group's chain from before per-person chains, and its head against the legacy anchor."""
    report = Report()
    slug = db.session.get(SiteGroup, group_id).slug
    walk = _Walk(f"{slug}'s chain before the upgrade", owner_of=None)
    query = (
        select(*_ROW)
        .where(LedgerEntry.group_id == group_id, LedgerEntry.chain.is_(None))
        .order_by(LedgerEntry.seq)
    )
    for entry, sealed in _stream(query):
        report.entries += 1
        broken = walk.step(entry, sealed, entry.seq)
        if broken:
            report.breaks.append(broken)
            return report
    recorded = db.session.scalar(
        select(LedgerAnchor).where(LedgerAnchor.group_id == group_id, LedgerAnchor.kind == LEGACY)
    )
    count, head = (recorded.count, recorded.root) if recorded else (0, "")
    if walk.position:
        report.chains = 1
    if (walk.position, walk.previous) != (count, head):
        at = min(walk.position, count) + 1
        report.breaks.append(
            Break(walk.where, at, 0, f"entries after this point are missing ({count} recorded)")
        )
    return report


def _anchors(group_id: int, public_key: str | None) -> Report:
    """The group's anchor chain, and the entries under each anchor against its root."""
    report = Report()
    previous = ""
    for position, anchor in enumerate(
        db.session.scalars(
            select(LedgerAnchor).where(LedgerAnchor.group_id == group_id).order_by(LedgerAnchor.seq)
        ),
        start=1,
    ):
        report.anchors += 1
        where = f"anchor {anchor.seq} of group {group_id}"
        fields = as_dict(anchor)
        problem = None
        if anchor.seq != position:
            problem = f"anchor {position} is missing"
        elif anchor.prev_hash != previous:
            problem = "does not follow the previous anchor"
        elif merkle.anchor_hash(fields) != anchor.hash:
            problem = "the anchor was changed"
        elif public_key and not merkle.signature_holds(fields, public_key):
            problem = "not signed by the ledger's key"
        elif anchor.kind == MERKLE:
            problem = _sealed_entries(anchor)
        if problem:
            report.breaks.append(Break(where, 0, 0, problem))
            return report
        previous = anchor.hash
    return report


def _sealed_entries(anchor: LedgerAnchor) -> str | None:
    rows = db.session.execute(
        select(LedgerEntry.id, LedgerEntry.hash)
        .where(LedgerEntry.anchor_id == anchor.id)
        .order_by(LedgerEntry.id)
    ).all()
    if len(rows) != anchor.count:
        missing = anchor.count - len(rows)
        return (
            f"{missing} of its {anchor.count} entries (ids {anchor.first_entry} to "
            f"{anchor.last_entry}) are missing"
            if missing > 0
            else f"{-missing} entries were added under it"
        )
    if merkle.root([row.hash for row in rows]) != anchor.root:
        return f"an entry under it (ids {anchor.first_entry} to {anchor.last_entry}) was changed"
    return None


def against_file(document: dict, group_id: int | None = None) -> Report:
    """Every anchor of an exported anchor file is still in the database, unchanged."""
    report = Report()
    held = {(a.group_id, a.seq): a.hash for a in db.session.scalars(select(LedgerAnchor))}
    for anchor in document.get("anchors", []):
        if group_id is not None and anchor["group"] != group_id:
            continue
        where = f"anchor {anchor['seq']} of group {anchor['group']}"
        if merkle.anchor_hash(anchor) != anchor["hash"]:
            report.breaks.append(Break(where, 0, 0, "the anchor file itself was changed"))
        elif (anchor["group"], anchor["seq"]) not in held:
            report.breaks.append(
                Break(where, 0, 0, "in the anchor file but gone from the database: cut off")
            )
        elif held[anchor["group"], anchor["seq"]] != anchor["hash"]:
            report.breaks.append(Break(where, 0, 0, "differs from the anchor file"))
    return report


# A row of ``_ROW`` with its personal part opened (None: no part, or its key is gone).
_Entry = namedtuple("_Entry", [column.key for column in _ROW] + ["personal"])


def _open(sealed: bytes | None) -> str | None:
    if sealed is None:
        return None
    try:
        return keys().decrypt(sealed)
    except KeyMissing:
        return None  # as ``Encrypted`` reads it: an erased person's part


def _stream(query) -> Iterable:
    """(entry, stored personal bytes) in order, read a few thousand at a time. The people's
    keys of each batch are read from the key store in a few queries (``KeyStore.prefetch``),
    not one query per person: at millions of people that was most of the run."""
    result = db.session.execute(query.execution_options(yield_per=2000))
    store = subject_keys.store()
    for rows in result.partitions():
        stored = [
            None if row.sealed_personal is None else bytes(row.sealed_personal) for row in rows
        ]
        store.prefetch({ref for blob in stored if blob and (ref := personal_ref(blob))})
        for row, sealed in zip(rows, stored, strict=True):
            yield _Entry(*row, _open(sealed)), sealed


# --- running the parts, in this process or in several ---------------------------------------

_app = None


def _forked() -> None:
    """In a new process: connections of its own (the parent's stay the parent's)."""
    from portal.core.kernel.subject_keys import KeyStore

    with _app.app_context():
        db.engine.dispose(close=False)
    for store in list(KeyStore.opened):
        store.engine.dispose(close=False)


def _run(task: tuple) -> Report:
    name, *args = task
    with _app.app_context():
        try:
            return {"chains": _chains, "legacy": _legacy, "anchors": _anchors}[name](*args)
        finally:
            db.session.remove()


def _tasks(group_ids: list[int], only: int | None, public_key: str | None) -> list[tuple]:
    ranges = [("chains", only, HEX[i], HEX[i + 1] if i + 1 < 16 else None) for i in range(16)]
    legacy = [("legacy", g) for g in group_ids]
    return [*ranges, *legacy, *[("anchors", g, public_key) for g in group_ids]]


def verify(
    group_id: int | None = None,
    *,
    jobs: int = 1,
    public_key: str | None = None,
    anchor_file: dict | None = None,
) -> Report:
    """Check the ledger (one group's, or all of it) with ``jobs`` processes; returns what was
    checked and every break found (at most the first of each chain)."""
    global _app
    groups = select(SiteGroup.id).order_by(SiteGroup.id)
    if group_id is not None:
        groups = groups.where(SiteGroup.id == group_id)
    group_ids = list(db.session.scalars(groups))
    tasks = _tasks(group_ids, group_id, public_key)
    report = Report()
    if jobs <= 1:
        for task in tasks:
            report.add(_run_here(task))
    else:
        _app = current_app._get_current_object()
        db.session.commit()  # the processes read what is committed, as another server would
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_forked) as pool:
            for part in pool.map(_run, tasks):
                report.add(part)
    if anchor_file is not None:
        report.add(against_file(anchor_file, group_id))
    return report


def _run_here(task: tuple) -> Report:
    name, *args = task
    return {"chains": _chains, "legacy": _legacy, "anchors": _anchors}[name](*args)


def read_anchor_file(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
