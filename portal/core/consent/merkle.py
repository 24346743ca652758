"""Merkle trees over ledger entries, anchors, and checking a proof without the portal.

Nothing here imports the portal: a person or an auditor holding an export can copy this one
file (it needs Python's standard library, and ``cryptography`` only to check a signature) and
check, with ``check_proof``, that an entry of their export is in the company's ledger as it
was sealed, without asking the company anything. The README ("Proving a ledger entry") walks
through it.

The tree is the Merkle Tree Hash of RFC 6962 (section 2.1), over the entries' hashes in the
order of their ids: a leaf is SHA-256(0x00 || entry hash), an inner node SHA-256(0x01 || left
|| right), and a tree of n leaves splits at the largest power of two below n. The audit path
(section 2.1.1) lists the sibling hashes from the leaf up to the root.
"""

import hashlib
import json

# One encoder made once: ``json.dumps`` with options makes a new one per call, which cost
# more than the encoding itself when `flask ledger verify` hashes millions of entries.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_COMPACT = json.JSONEncoder(separators=(",", ":")).encode


def canonical(fields: dict) -> bytes:
    """The exact bytes hashed (and signed) for a dict of fields: sorted keys, no spaces, UTF-8
    (``json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``)."""
    return _CANONICAL(fields).encode()


def entry_hash(fields: dict) -> str:
    """A ledger entry's hash from the fields it covers (``hashedFields`` in an export)."""
    return hashlib.sha256(canonical(fields)).hexdigest()


def personal_digest(subject_id: int, personal: str) -> str:
    """The digest an entry carries of its personal part (``personal`` in an export: the exact
    JSON kept under the person's key, salt included), tying it to the person's id."""
    return hashlib.sha256(_COMPACT([subject_id, personal]).encode()).hexdigest()


def leaf(entry_hex: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(entry_hex)).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _root(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(_root(leaves[:k]), _root(leaves[k:]))


def root(entry_hashes: list[str]) -> str:
    """The Merkle root (hex) of entry hashes, in order; the empty tree's is SHA-256 of nothing."""
    if not entry_hashes:
        return hashlib.sha256(b"").hexdigest()
    return _root([leaf(h) for h in entry_hashes]).hex()


def _path(leaves: list[bytes], index: int) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*_path(leaves[:k], index), _root(leaves[k:])]
    return [*_path(leaves[k:], index - k), _root(leaves[:k])]


def path(entry_hashes: list[str], index: int) -> list[str]:
    """The audit path (sibling hashes, leaf to root, hex) of entry ``index`` of the tree."""
    return [h.hex() for h in _path([leaf(h) for h in entry_hashes], index)]


def root_from_path(entry_hex: str, index: int, count: int, siblings: list[str]) -> str | None:
    """The root an audit path leads to (RFC 9162, 2.1.3.2), or None when the path has the wrong
    length for a leaf ``index`` of a tree of ``count`` leaves."""
    if not 0 <= index < count:
        return None
    node, fn, sn = leaf(entry_hex), index, count - 1
    for sibling_hex in siblings:
        sibling = bytes.fromhex(sibling_hex)
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            node = _node(sibling, node)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            node = _node(node, sibling)
        fn, sn = fn >> 1, sn >> 1
    return node.hex() if sn == 0 else None


ANCHOR_FIELDS = (
    "group",
    "seq",
    "kind",
    "count",
    "root",
    "first_entry",
    "last_entry",
    "prev",
    "sealed_at",
)


def anchor_statement(anchor: dict) -> bytes:
    """What an anchor's hash covers and its signature signs: its fields, canonical."""
    return canonical({"v": 1, **{name: anchor[name] for name in ANCHOR_FIELDS}})


def anchor_hash(anchor: dict) -> str:
    return hashlib.sha256(anchor_statement(anchor)).hexdigest()


def signature_holds(anchor: dict, public_key_hex: str) -> bool:
    """True when ``anchor["signature"]`` is the Ed25519 signature of its statement by the key
    ``public_key_hex`` (raw 32 bytes, hex), which must come from the company, not the file."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not anchor.get("signature"):
        return False
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
    try:
        key.verify(bytes.fromhex(anchor["signature"]), anchor_statement(anchor))
    except InvalidSignature:
        return False
    return True


def check_proof(proof: dict, public_key_hex: str | None = None) -> list[str]:
    """Check one entry's proof from a person's export; returns what fails ([] when it holds).

    1. the entry's hash is the SHA-256 of its hashed fields (so those fields are what was
       recorded), and its personal part, when given, is the one the hash covers;
    2. the audit path leads from that hash to the anchor's Merkle root;
    3. the anchor's hash is that of its statement, and, given the company's public key, the
       anchor is signed by it.
    """
    problems = []
    fields, entry_hex = proof["hashedFields"], proof["entryHash"]
    if entry_hash(fields) != entry_hex:
        problems.append("the entry's fields do not give its hash")
    personal, subject_id = proof.get("personal"), proof.get("subjectId")
    given = personal is not None and subject_id is not None
    if given and personal_digest(subject_id, personal) != fields.get("personal"):
        problems.append("the personal part is not the one the entry's hash covers")
    anchor = proof.get("anchor")
    if anchor is None:
        return [*problems, "the entry is not sealed under an anchor yet"]
    reached = root_from_path(entry_hex, proof["leafIndex"], anchor["count"], proof["path"])
    if reached != anchor["root"]:
        problems.append("the audit path does not lead to the anchor's root")
    if anchor_hash(anchor) != anchor["hash"]:
        problems.append("the anchor's hash is not that of its statement")
    if public_key_hex is not None and not signature_holds(anchor, public_key_hex):
        problems.append("the anchor is not signed by this key")
    return problems
