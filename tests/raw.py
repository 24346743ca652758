"""What someone holding a copy of the database would have, byte for byte, and a search of it
for a person's data in every form it could be written in."""

import base64
import subprocess
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import sqlalchemy as sa

from portal.extensions import db


def _sqlite(path: Path) -> bytes:
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def _pg_files(since: float) -> bytes:
    """The database's relation files (tables, TOAST, indexes: dead row versions included,
    since no VACUUM runs) and the cluster's WAL segments written since ``since``. A CHECKPOINT
    (not a VACUUM) first, so that the files hold what shared buffers had."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("SET statement_timeout = 0"))  # a busy cluster is slow
        connection.execute(sa.text("CHECKPOINT"))
        data = Path(connection.execute(sa.text("SHOW data_directory")).scalar_one())
        paths = connection.execute(
            sa.text(
                "SELECT pg_relation_filepath(oid) FROM pg_class "
                "WHERE relkind IN ('r', 't', 'i', 'm') AND pg_relation_filepath(oid) IS NOT NULL"
            )
        ).scalars()
        relations = [data / path for path in paths]
    chunks = []
    for relation in relations:
        for segment in relation.parent.glob(relation.name + "*"):  # .1, .2, _fsm, _vm
            chunks.append(segment.read_bytes())
    for segment in sorted((data / "pg_wal").glob("0*")):
        if segment.stat().st_mtime >= since - 1:
            chunks.append(segment.read_bytes())
    return b"".join(chunks)


def copies(app, since: float | None = None) -> dict[str, bytes]:
    """Each copy of the data by name: the SQLite file with its WAL and journal, before and
    after a checkpoint; or a pg_dump, and PostgreSQL's relation files and WAL segments."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    db.session.remove()
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        before = _sqlite(path)
        with db.engine.begin() as connection:
            connection.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.engine.dispose()
        return {"sqlite file, WAL and journal": before + _sqlite(path)}
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    dump = subprocess.run(["pg_dump", plain], check=True, capture_output=True).stdout
    files = _pg_files(since if since is not None else time.time() - 3600)
    return {"pg_dump": dump, "relation files and WAL": files}


def _base64(data: bytes) -> set[bytes]:
    """The part of ``data``'s base64 that does not depend on what surrounds it, at each of the
    three alignments it can start at, in both alphabets."""
    found = set()
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + data)
        start = 4 if pad else 0
        end = 4 * ((pad + len(data)) // 3)
        middle = encoded[start:end]
        found |= {middle, middle.replace(b"+", b"-").replace(b"/", b"_")}
    return found


def forms(marker: str) -> set[bytes]:
    """``marker`` as UTF-8, UTF-16 (either byte order), lower case, base64 and URL-encoded."""
    found = set()
    for text in {marker, marker.lower()}:
        raw = text.encode()
        found |= {raw, text.encode("utf-16-le"), text.encode("utf-16-be")}
        found |= {quote(text).encode(), quote_plus(text).encode(), quote(text, safe="").encode()}
        found |= _base64(raw)
    return found


def found(markers, haystacks: dict[str, bytes]) -> list[tuple[str, str, bytes]]:
    """Every (marker, copy, form) found, with nothing found as []."""
    hits = []
    for marker in markers:
        for form in forms(marker):
            for name, haystack in haystacks.items():
                if form in haystack:
                    hits.append((marker, name, form))
    return hits


def readable_refs(haystacks: dict[str, bytes]) -> dict[str, set[str]]:
    """The keys still in the key store (people's and one-off) that some value in a copy is
    sealed under, by copy: those values can still be read by whoever holds the copy and the
    key store. A value under a person's or a one-off key starts with 0x03 and the key's
    16-byte reference (``crypto.seal_personal``); pg_dump writes it as hex (``\\x03…``)."""
    from portal.core.kernel import subject_keys

    with subject_keys.store().engine.connect() as connection:
        refs = set(connection.scalars(sa.select(subject_keys.subject_key.c.ref)))
        refs |= set(connection.scalars(sa.select(subject_keys.row_key.c.ref)))
    found = {}
    for name, haystack in haystacks.items():
        found[name] = {
            ref
            for ref in refs
            if b"\x03" + bytes.fromhex(ref) in haystack or f"x03{ref}".encode() in haystack
        }
    return found
