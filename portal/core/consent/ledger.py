"""The append-only consent ledger: one hash chain per person.

Each entry carries the hash of the previous entry of the same person (their ``chain``), so an
entry edited or removed in the database breaks that chain at that point; the sealer
(``anchors``) then seals every entry under a Merkle anchor, which catches entries cut from the
end of a chain, and ``audit.verify`` checks both. Only ``portal.core.consent.changes`` calls
``append``.
"""

import hashlib
import json
import secrets
from dataclasses import dataclass
from types import SimpleNamespace

from sqlalchemy import func, select, update

from portal.core.consent import merkle
from portal.core.consent.models import LedgerEntry
from portal.core.kernel import many, subject_keys
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
    return merkle.personal_digest(subject_id, personal)


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


def digest_of(entry: LedgerEntry) -> str:
    if '"v"' not in entry.personal:  # no key "v" (spelt so by json.dumps): not parsed, for speed
        return sealed_digest(entry.subject_id, entry.personal)
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


def hashed_fields(entry) -> dict:
    """What an entry's hash covers. Entries of a person's chain (``chain`` set) name their
    chain and position in it; entries written before (the group's single chain) keep the form
    they were hashed with, so the receipts already handed out stay true."""
    fields = {
        "group": entry.group_id,
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
    if entry.chain is None:
        return {**fields, "seq": entry.seq}
    return {**fields, "v": 2, "chain": entry.chain, "seq": entry.chain_seq}


def entry_hash(entry) -> str:
    return merkle.entry_hash(hashed_fields(entry))


@dataclass
class Head:
    """Where a person's chain stands: its id, the last position taken and that entry's hash."""

    chain: str
    seq: int
    hash: str


def _heads(subject_ids) -> dict[int, Head]:
    """Take the people's locks (unless held), then read the heads of their chains.

    The person's lock is what orders their chain: held from here to the commit, so two
    changes to one person chain one after the other, while changes to other people of the
    same group go on meanwhile. A person with no entry yet gets a new random chain id.
    """
    if any(i is None for i in subject_ids):
        raise ValueError("every ledger entry is about a person: it goes in their chain")
    ids = sorted(set(subject_ids))
    locks.subjects(ids)
    columns = (LedgerEntry.subject_id, LedgerEntry.chain, LedgerEntry.chain_seq, LedgerEntry.hash)
    if len(ids) == 1:  # one person: their last entry, read through their index
        query = (
            select(*columns)
            .where(LedgerEntry.subject_id == ids[0], LedgerEntry.chain.is_not(None))
            .order_by(LedgerEntry.chain_seq.desc())
            .limit(1)
        )
    else:
        last = (
            select(LedgerEntry.subject_id, func.max(LedgerEntry.chain_seq).label("seq"))
            .where(many.among(LedgerEntry.subject_id, ids), LedgerEntry.chain.is_not(None))
            .group_by(LedgerEntry.subject_id)
            .subquery()
        )
        query = select(*columns).join(
            last,
            (last.c.subject_id == LedgerEntry.subject_id) & (last.c.seq == LedgerEntry.chain_seq),
        )
    heads = {
        row.subject_id: Head(row.chain, row.chain_seq, row.hash)
        for row in db.session.execute(query)
    }
    for subject_id in ids:
        heads.setdefault(subject_id, Head(secrets.token_hex(16), 0, ""))
    return heads


def _chained(heads: dict[int, Head], entry: dict) -> dict:
    """Put ``entry`` at the head of its person's chain, moving the head on."""
    head = heads[entry["subject_id"]]
    head.seq += 1
    entry.update(chain=head.chain, chain_seq=head.seq, prev_hash=head.hash, seq=None)
    entry["hash"] = head.hash = entry_hash(SimpleNamespace(**entry))
    return entry


def append(group_id: int, **fields) -> LedgerEntry:
    """Add one entry at the head of its person's chain, inside the caller's transaction.

    Only the person's lock is taken (``_heads``): appends about one person are serialised and
    never share a position; appends about different people run side by side.
    """
    heads = _heads([fields.get("subject_id")])
    personal = _personal_part(fields)
    entry = LedgerEntry(group_id=group_id, personal=personal, **fields)
    entry.personal_digest = sealed_digest(entry.subject_id, personal)
    values = {column: getattr(entry, column) for column in _COLUMNS}
    _chained(heads, values)
    entry.chain, entry.chain_seq = values["chain"], values["chain_seq"]
    entry.prev_hash, entry.hash = values["prev_hash"], values["hash"]
    db.session.add(entry)
    return entry


def append_many(group_id: int, rows: list[dict]) -> list[str]:
    """Add ``rows`` (each the fields of one entry) at the heads of their people's chains in one
    go; returns their hashes (receipts), in order.

    Reads every person's head once, chains the entries in order (several of one person follow
    each other) and inserts them with one statement: the same chains ``append`` builds, for
    bulk imports and bulk captures.
    """
    if not rows:
        return []
    subject_ids = [row.get("subject_id") for row in rows]
    heads = _heads(subject_ids)
    refs = keys.refs_of(subject_ids)
    values = []
    for fields in rows:
        entry = dict.fromkeys(_COLUMNS) | fields
        personal = _personal_part(entry)
        entry.update(group_id=group_id, ip=None, user_agent=None)
        entry["personal_digest"] = sealed_digest(entry["subject_id"], personal)
        entry["personal"] = subject_keys.seal(refs.get(entry["subject_id"]), personal)
        values.append(_chained(heads, entry))
    db.session.execute(LedgerEntry.__table__.insert(), values)
    return [entry["hash"] for entry in values]


_COLUMNS = [column.key for column in LedgerEntry.__table__.columns if column.key != "id"]


def anonymise(subject_id: int, erasure_id: str) -> int:
    """Keep a subject's entries as anonymous proof: the subject becomes the erasure id.

    Dropping the personal part (salt included; its key is deleted with the person anyway)
    makes the personal digest unlinkable; the chain still verifies because the digest, not the
    personal fields, is what the chain hashes. The chain keeps its id, random and never derived
    from the person: the erased person's entries stay one chain, verified like any other, and
    none of them can be attached to someone else unseen (``audit``).
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
