"""The append-only consent ledger and its hash chain.

Each entry carries the hash of the previous entry of its site group, so an entry edited or
removed in the database breaks the chain at that point and ``verify`` names it. Only
``portal.core.consent.changes`` calls ``append``.
"""

import hashlib
import json
import secrets
from dataclasses import dataclass
from types import SimpleNamespace

from sqlalchemy import select, update

from portal.core.consent.models import LedgerEntry
from portal.core.kernel import subject_keys
from portal.core.kernel.models.group import SiteGroup
from portal.core.people import keys, locks
from portal.extensions import db


def _iso(moment) -> str | None:
    return None if moment is None else moment.isoformat(timespec="microseconds")


# Evidence that is free text about the person (what an API client or an import file says, a
# reason typed by someone): kept under the person's own key with the IP and user agent, never
# in the chain itself. The other keys (gpc, via, rule, ...) are the portal's own words.
PERSONAL_EVIDENCE = frozenset(
    {"agent", "recording", "document", "store", "note", "reason", "original_source"}
)


def personal_digest(salt: str, subject_id: int | None, ip: str | None, ua: str | None) -> str:
    """The digest of entries written before per-person keys (clear salt, IP, user agent)."""
    material = json.dumps([salt, subject_id, ip, ua], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()


def sealed_digest(subject_id: int | None, personal: str) -> str:
    """The digest of an entry's personal part (``personal``: its JSON, salt included)."""
    material = json.dumps([subject_id, personal], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()


def _personal_part(fields: dict) -> str:
    """Move the personal parts of ``fields`` out into the JSON kept under the person's key."""
    evidence = fields.pop("evidence", None) or {}
    own = {k: v for k, v in evidence.items() if k in PERSONAL_EVIDENCE}
    fields["evidence"] = {k: v for k, v in evidence.items() if k not in PERSONAL_EVIDENCE} or None
    part = {
        "salt": secrets.token_hex(16),
        "ip": fields.pop("ip", None),
        "user_agent": fields.pop("user_agent", None),
        "evidence": own or None,
    }
    return json.dumps(part, separators=(",", ":"), ensure_ascii=False)


def _digest_of(entry: LedgerEntry) -> str:
    part = json.loads(entry.personal)
    if part.get("v") == 1:  # written before per-person keys, moved under the person's key
        return personal_digest(part["salt"], entry.subject_id, part["ip"], part["user_agent"])
    return sealed_digest(entry.subject_id, entry.personal)


def personal_part(entry: LedgerEntry) -> dict:
    """What the entry says about the person (ip, user_agent, evidence): {} once erased."""
    if entry.personal is not None:
        part = json.loads(entry.personal)
        return {k: part[k] for k in ("ip", "user_agent", "evidence")}
    if entry.personal_salt is not None:
        return {"ip": entry.ip, "user_agent": entry.user_agent, "evidence": None}
    return {}


def entry_hash(entry: LedgerEntry) -> str:
    fields = {
        "group": entry.group_id,
        "seq": entry.seq,
        "brand": entry.brand_id,
        "topic": entry.topic_id,
        "channel": entry.channel,
        "action": entry.action,
        "source": entry.source,
        "text_version": entry.text_version_id,
        "language": entry.language,
        "policy_version": entry.policy_version,
        "occurred_at": _iso(entry.occurred_at),
        "requested_at": _iso(entry.requested_at),
        "actor": entry.actor,
        "evidence": entry.evidence,
        "personal": entry.personal_digest,
        "prev": entry.prev_hash,
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _take_seqs(group_id: int, count: int, subject_ids) -> tuple[int, str]:
    """Move the group's ``ledger_seq`` on by ``count`` under its row lock; returns the new
    last seq and the chain head. One statement: the lock is held from here to the commit.
    The locks of the people the rows are about come first (``locks.group``)."""
    locks.group(group_id, subject_ids)
    return db.session.execute(
        update(SiteGroup)
        .where(SiteGroup.id == group_id)
        .values(ledger_seq=SiteGroup.ledger_seq + count)
        .returning(SiteGroup.ledger_seq, SiteGroup.ledger_head)
    ).one()


def append(group_id: int, **fields) -> LedgerEntry:
    """Add one entry at the head of the group's chain, inside the caller's transaction.

    The subject's lock is taken first unless held, then the group row is updated, which takes
    its lock (a row lock on PostgreSQL, the write lock on SQLite): concurrent appends in one
    group are serialised and never share a seq, and never deadlock with a change to a person.
    """
    seq, head = _take_seqs(group_id, 1, [fields.get("subject_id")])
    personal = _personal_part(fields)
    entry = LedgerEntry(group_id=group_id, seq=seq, prev_hash=head, personal=personal, **fields)
    entry.personal_digest = sealed_digest(entry.subject_id, personal)
    entry.hash = entry_hash(entry)
    db.session.add(entry)
    db.session.execute(
        update(SiteGroup).where(SiteGroup.id == group_id).values(ledger_head=entry.hash)
    )
    return entry


def append_many(group_id: int, rows: list[dict]) -> list[str]:
    """Add ``rows`` (each the fields of one entry) at the head of the chain in one go; returns
    their hashes (receipts), in order.

    Takes the group row lock once for the whole batch, then chains the entries in order and
    inserts them with one statement: the same chain ``append`` builds, for bulk imports and
    bulk captures.
    """
    if not rows:
        return []
    last, head = _take_seqs(group_id, len(rows), [row.get("subject_id") for row in rows])
    refs = keys.refs_of([row.get("subject_id") for row in rows])
    seq = last - len(rows)
    values = []
    for fields in rows:
        seq += 1
        entry = dict.fromkeys(_COLUMNS) | fields
        personal = _personal_part(entry)
        entry.update(group_id=group_id, seq=seq, prev_hash=head, ip=None, user_agent=None)
        entry["personal_digest"] = sealed_digest(entry["subject_id"], personal)
        entry["personal"] = subject_keys.seal(refs.get(entry["subject_id"]), personal)
        entry["hash"] = head = entry_hash(SimpleNamespace(**entry))
        values.append(entry)
    db.session.execute(LedgerEntry.__table__.insert(), values)
    db.session.execute(update(SiteGroup).where(SiteGroup.id == group_id).values(ledger_head=head))
    return [entry["hash"] for entry in values]


_COLUMNS = [column.key for column in LedgerEntry.__table__.columns if column.key != "id"]


@dataclass
class Break:
    seq: int
    entry_id: int
    reason: str


def verify(group_id: int, batch: int = 5000) -> tuple[int, Break | None]:
    """Walk the group's chain in order; return (entries checked, first break or None)."""
    previous_hash, expected_seq, checked = "", 1, 0
    last_seq = 0
    while True:
        rows = db.session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.group_id == group_id, LedgerEntry.seq > last_seq)
            .order_by(LedgerEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            break
        for entry in rows:
            problem = _check(entry, expected_seq, previous_hash)
            if problem:
                at = expected_seq if entry.seq != expected_seq else entry.seq
                return checked, Break(at, entry.id, problem)
            previous_hash, expected_seq, last_seq = entry.hash, entry.seq + 1, entry.seq
            checked += 1
        db.session.expunge_all()
    head = db.session.scalar(select(SiteGroup.ledger_head).where(SiteGroup.id == group_id))
    if head != previous_hash:
        return checked, Break(expected_seq, 0, "entries after this point are missing")
    return checked, None


def _check(entry: LedgerEntry, expected_seq: int, previous_hash: str) -> str | None:
    if entry.seq != expected_seq:
        return f"entry {expected_seq} is missing"
    if entry.prev_hash != previous_hash:
        return "does not follow the previous entry"
    # Skipped once anonymised by an erasure (or unreadable: the person's key is gone).
    if entry.personal is not None:
        if _digest_of(entry) != entry.personal_digest:
            return "subject, IP, user agent or evidence was changed"
    elif entry.personal_salt is not None:
        digest = personal_digest(entry.personal_salt, entry.subject_id, entry.ip, entry.user_agent)
        if digest != entry.personal_digest:
            return "subject, IP or user agent was changed"
    if entry_hash(entry) != entry.hash:
        return "content was changed"
    return None


def anonymise(subject_id: int, erasure_id: str) -> int:
    """Keep a subject's entries as anonymous proof: the subject becomes the erasure id.

    Dropping the personal part (salt included; its key is deleted with the person anyway)
    makes the personal digest unlinkable; the chain still verifies because the digest, not the
    personal fields, is what the chain hashes.
    """
    return db.session.execute(
        update(LedgerEntry)
        .where(LedgerEntry.subject_id == subject_id)
        .values(
            subject_id=None,
            erasure_id=erasure_id,
            ip=None,
            user_agent=None,
            personal_salt=None,
            personal=None,
        )
    ).rowcount
