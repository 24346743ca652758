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

The work is split into ranges of people (by id) and of anchors, checked by ``jobs`` processes
at once, each with its own database connections. A range of people is read a thousand people
at a time: the whole chains that hold an entry of one of them, in chain order. People's entries
lie near each other on disk far more than random chain ids do (ranges of chain ids made every
process read nearly every page of the table, over and over). A chain is checked by the range
that holds the person of its first entry, the chains whose first entry was anonymised at an
erasure by a task of their own, so each chain is checked once and whole, wherever its other
entries point.
"""

import json
import multiprocessing
from collections import namedtuple
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import LargeBinary, func, select, type_coerce

from portal.core.consent import ledger, merkle
from portal.core.consent.anchors import LEGACY, MERKLE, as_dict
from portal.core.consent.models import LedgerAnchor, LedgerEntry
from portal.core.kernel import many, subject_keys
from portal.core.kernel.crypto import KeyMissing, keys, open_personal, personal_ref
from portal.core.kernel.models.group import SiteGroup
from portal.extensions import db

PEOPLE_PER_QUERY = 1000  # the chains of this many people read at once
CHAINS_PER_QUERY = 1000
RANGES_PER_JOB = 16  # tasks per process: a slow range does not leave the other cores idle
ANCHORS_PER_TASK = 100


@dataclass(frozen=True)
class Break:
    """Where verification failed: ``where`` names the chain or anchor, ``position`` the entry's
    place in it, ``entry_id`` the row (0 when the row itself is missing)."""

    where: str
    position: int
    entry_id: int
    reason: str
    anchor: int = 0  # the anchor's position in its group's chain, for an anchor's break

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
        """The break at the lowest row id (a missing row, or an anchor, after any row; the
        first anchor of a group before a later one)."""
        if not self.breaks:
            return None
        return min(self.breaks, key=lambda b: (b.entry_id or 2**63, b.anchor, b.where))


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


def _check(batches: Iterable[tuple]) -> Report:
    """Walk the chains of each batch, a query of whole chains in chain order, whose first
    entry ``owns`` (the batch's second item) says are this batch's to check."""
    report = Report()
    for query, owns in batches:
        chain, walk, mine = None, None, False
        for entry, sealed in _read(query):
            if entry.chain != chain:
                chain, walk, mine = entry.chain, _Walk(f"chain {entry.chain}"), owns(entry)
                report.chains += mine
            if not mine:
                continue
            report.entries += 1
            broken = walk.step(entry, sealed, entry.chain_seq)
            if broken:
                report.breaks.append(broken)
    return report


def _whole_chains(group_id: int | None, chains):
    """The entries of the chains ``chains`` names (a condition on the chain), in chain order."""
    query = select(*_ROW).where(chains)
    if group_id is not None:
        query = query.where(LedgerEntry.group_id == group_id)
    return query.order_by(LedgerEntry.chain, LedgerEntry.chain_seq)


def _people(group_id: int | None, low: int, high: int) -> Report:
    """Check the chains whose first entry is about a person with an id in [low, high)."""

    def batches():
        for first in range(low, high, PEOPLE_PER_QUERY):
            last = min(first + PEOPLE_PER_QUERY, high)
            query = select(LedgerEntry.chain).where(
                LedgerEntry.subject_id >= first,
                LedgerEntry.subject_id < last,
                LedgerEntry.chain.is_not(None),
            )
            if group_id is not None:
                query = query.where(LedgerEntry.group_id == group_id)
            # The chains' ids first, then their entries by the chain index: asked in one
            # query, PostgreSQL guessed a chain per entry and scanned the whole table.
            chains = list(db.session.scalars(query.distinct()))
            if chains:
                query = _whole_chains(group_id, many.among(LedgerEntry.chain, chains))
                yield query, _about_someone_in(first, last)

    return _check(batches())


def _about_someone_in(low: int, high: int):
    return lambda entry: entry.subject_id is not None and low <= entry.subject_id < high


def _erased(group_id: int | None) -> Report:
    """Check the chains whose first entry was anonymised at an erasure (no person any more)."""
    query = select(LedgerEntry.chain).where(
        LedgerEntry.subject_id.is_(None), LedgerEntry.chain.is_not(None)
    )
    if group_id is not None:
        query = query.where(LedgerEntry.group_id == group_id)
    chains = list(db.session.scalars(query.distinct().order_by(LedgerEntry.chain)))
    return _check(
        (
            _whole_chains(
                group_id, many.among(LedgerEntry.chain, chains[at : at + CHAINS_PER_QUERY])
            ),
            _anonymous,
        )
        for at in range(0, len(chains), CHAINS_PER_QUERY)
    )


def _anonymous(entry) -> bool:
    return entry.subject_id is None


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
    """The group's anchor chain: each anchor's place, link, hash and signature."""
    report = Report()
    previous = ""
    for position, anchor in enumerate(
        db.session.scalars(
            select(LedgerAnchor).where(LedgerAnchor.group_id == group_id).order_by(LedgerAnchor.seq)
        ),
        start=1,
    ):
        report.anchors += 1
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
        if problem:
            where = f"anchor {anchor.seq} of group {group_id}"
            report.breaks.append(Break(where, 0, 0, problem, anchor.seq))
            return report
        previous = anchor.hash
    return report


def _sealed(group_id: int, low: int, high: int) -> Report:
    """The entries under each Merkle anchor of positions [low, high) against its root and
    count; the first anchor that fails is named. An anchor that is not what its own hash
    says is left to ``_anchors``, which names it."""
    report = Report()
    for anchor in db.session.scalars(
        select(LedgerAnchor)
        .where(
            LedgerAnchor.group_id == group_id,
            LedgerAnchor.kind == MERKLE,
            LedgerAnchor.seq >= low,
            LedgerAnchor.seq < high,
        )
        .order_by(LedgerAnchor.seq)
    ):
        if merkle.anchor_hash(as_dict(anchor)) != anchor.hash:
            continue
        problem = _sealed_entries(anchor)
        if problem:
            where = f"anchor {anchor.seq} of group {group_id}"
            report.breaks.append(Break(where, 0, 0, problem, anchor.seq))
            return report
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
            problem = "the anchor file itself was changed"
        elif (anchor["group"], anchor["seq"]) not in held:
            problem = "in the anchor file but gone from the database: cut off"
        elif held[anchor["group"], anchor["seq"]] != anchor["hash"]:
            problem = "differs from the anchor file"
        else:
            continue
        report.breaks.append(Break(where, 0, 0, problem, anchor["seq"]))
    return report


# A row of ``_ROW`` with its personal part opened (None: no part, or its key is gone).
_Entry = namedtuple("_Entry", [column.key for column in _ROW] + ["personal"])


def _opened(rows) -> Iterable:
    """(entry, stored personal bytes) of ``rows``. The people's keys are read from the key
    store in a few queries for all the rows (``KeyStore.openers``), not one query per person,
    and each made once, not once per entry: at millions of people both were most of the run."""
    stored = [None if row.sealed_personal is None else bytes(row.sealed_personal) for row in rows]
    openers = subject_keys.store().openers(
        {ref for blob in stored if blob and (ref := personal_ref(blob))}
    )
    for row, sealed in zip(rows, stored, strict=True):
        yield _Entry(*row, _open(sealed, openers)), sealed


def _open(sealed: bytes | None, openers: dict) -> str | None:
    if sealed is None:
        return None
    ref = personal_ref(sealed)
    if ref is None:
        try:
            return keys().decrypt(sealed)
        except KeyMissing:
            return None
    aead = openers.get(ref)
    return None if aead is None else open_personal(aead, sealed)  # None: an erased person's


def _read(query) -> Iterable:
    """A batch's rows, read at once (a batch is a thousand people's chains)."""
    # Through the connection, not the session: plain rows, without the ORM's loading steps
    # (they were a fifth of the time per entry).
    return _opened(db.session.connection().execute(query).all())


def _stream(query) -> Iterable:
    """(entry, stored personal bytes) in order, read a few thousand at a time."""
    result = db.session.connection().execute(query.execution_options(yield_per=2000))
    for rows in result.partitions():
        yield from _opened(rows)


# --- running the parts, in this process or in several ---------------------------------------

_app = None


def _forked() -> None:
    """In a new process: connections of its own (the parent's stay the parent's)."""
    from portal.core.kernel.subject_keys import KeyStore

    with _app.app_context():
        db.engine.dispose(close=False)
    for store in list(KeyStore.opened):
        store.engine.dispose(close=False)


_PARTS = {}  # filled below, once every part is defined


def _run(task: tuple) -> Report:
    name, *args = task
    with _app.app_context():
        try:
            return _PARTS[name](*args)
        finally:
            db.session.remove()


def _tasks(group_ids: list[int], only: int | None, public_key: str | None, jobs: int):
    """The parts: ranges of people, the erased people's chains, each group's old chain, anchor
    chain and ranges of anchors."""
    bounds = select(func.min(LedgerEntry.subject_id), func.max(LedgerEntry.subject_id))
    if only is not None:
        bounds = bounds.where(LedgerEntry.group_id == only)
    low, high = db.session.execute(bounds).one()
    tasks = []
    if low is not None:
        span = high - low + 1
        ranges = max(1, min(-(-span // PEOPLE_PER_QUERY), jobs * RANGES_PER_JOB))
        step = -(-span // ranges)
        tasks += [
            ("people", only, at, min(at + step, high + 1)) for at in range(low, high + 1, step)
        ]
    tasks.append(("erased", only))
    for group_id in group_ids:
        tasks += [("legacy", group_id), ("anchors", group_id, public_key)]
        last = db.session.scalar(
            select(func.max(LedgerAnchor.seq)).where(LedgerAnchor.group_id == group_id)
        )
        tasks += [
            ("sealed", group_id, at, at + ANCHORS_PER_TASK)
            for at in range(1, (last or 0) + 1, ANCHORS_PER_TASK)
        ]
    return tasks


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
    tasks = _tasks(group_ids, group_id, public_key, jobs)
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
    return _PARTS[name](*args)


_PARTS.update(people=_people, erased=_erased, legacy=_legacy, anchors=_anchors, sealed=_sealed)


def read_anchor_file(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
