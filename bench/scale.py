"""A group at internet scale (issue 18): 5,000,000 people and 50,000,000 ledger rows.

``python -m bench scale`` (``--quick``: 200,000 people, 2,000,000 rows; BENCH_SCALE_PEOPLE and
BENCH_SCALE_LEDGER_ROWS for any other size, BENCH_SCALE_KEEP=1 to keep the databases,
BENCH_SCALE_DATABASE for their names' prefix, BENCH_SCALE_STEPS to take some steps only: a run
without ``generate`` measures the databases an earlier kept run left).

The people are real to the product: each has a key of their own in a key store of its own
(a PostgreSQL database beside the data), their address sealed under it and hashed with the
portal's hash key, two consents, and a hash chain of ledger entries whose personal parts are
sealed under their key; the entries are sealed under signed Merkle anchors of
LEDGER_SEAL_BATCH entries, as the sealer writes them. ``flask ledger verify`` passes on them.
Two processes generate blocks of 10,000 people each and write them with COPY (indexes dropped
during the load and built after, foreign keys not checked row by row: the generator knows its
rows are consistent). One person in a thousand has been inactive for three years, so the
lifecycle run has a known share of due people; everyone else was active within six months.

Then, on that database:

- each console page of the group (dashboard, audit, support search by address, rules):
  time to the whole answer through the app (Flask's test client, in this process), the first
  request and the median of three;
- ``flask lifecycle run``: wall time, and what it touched (subjects acted on, mails queued,
  ledger rows written);
- ``flask ledger verify`` in a process of its own: wall time, and the CPU seconds of it and
  its worker processes (more CPU seconds than wall seconds: more than one core at work);
- a steady load with retention on: rounds of a week each (consent changes through the bulk
  API with a webhook endpoint listening, the same number of mails queued and sent, webhooks
  delivered, then the retention steps of ``flask lifecycle run``): the row counts of events,
  the outbox and webhook deliveries after each round, which level off once the retention
  window (30 days here) is full.

Each figure is written to bench/results/scale.md as soon as it is taken (a run stopped half
way leaves what it measured), with the load average when it was taken.
"""

import hashlib
import json
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import sqlalchemy as sa

from bench.api import KEYS, ROOT
from bench.common import POSTGRES_ADMIN, Figure, load_average, machine, write_results

FULL = (5_000_000, 50_000_000)
QUICK = (200_000, 2_000_000)
BLOCK = 10_000  # people per generated block (a multiple of it is one anchor's batch)
SEAL_BATCH = 10_000
SIGNING_KEY = "5c" * 32
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
ROUNDS, ROUND_DAYS, RETENTION_DAYS = 10, 7, 30
TABLES = ("subject", "consent", "ledger_entry")
# The databases' names start with this (a shared server: each user's runs apart).
PREFIX = os.environ.get("BENCH_SCALE_DATABASE") or "portal_scale"


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _env(url: str, keys_url: str) -> dict:
    return {
        **KEYS,
        "DATABASE_URL": url,
        "PORTAL_KEYS_URL": keys_url,
        "LEDGER_SIGNING_KEY": SIGNING_KEY,
        "LEDGER_SEAL_BATCH": str(SEAL_BATCH),
        "EVENT_RETENTION_DAYS": str(RETENTION_DAYS),
        "OUTBOX_KEEP_DAYS": str(RETENTION_DAYS),
        "WEBHOOK_DELIVERY_RETENTION_DAYS": str(RETENTION_DAYS),
        "LOG_LEVEL": "WARNING",
    }


def _app(url: str, keys_url: str):
    os.environ.update(_env(url, keys_url))
    from portal import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": False,
            "WEBHOOKS_ALLOW_INSECURE": True,
            "RATELIMIT_ENABLED": False,
        }
    )


class Results:
    """The figures so far, written to bench/results/scale.md after each one."""

    def __init__(self, quick: bool, size: str):
        self.quick, self.size, self.figures = quick, size, []
        self.load = load_average()

    def add(self, name: str, value, unit: str, target: str = "", ok=None) -> None:
        figure = Figure("scale", f"{name} (load {load_average()})", value, unit, target, ok)
        self.figures.append(figure)
        print(f"   {figure.name}: {value} {unit}", flush=True)
        write_results(
            "scale", f"{self.size}\n\n{Figure.table(self.figures)}", self.quick, self.load
        )


# --- generation ----------------------------------------------------------------------------


def _databases(tag: str) -> tuple[str, str]:
    admin = sa.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    base = POSTGRES_ADMIN.rsplit("/", 1)[0]
    urls = []
    with admin.connect() as c:
        for name in (f"{PREFIX}_{tag}", f"{PREFIX}_{tag}_keys"):
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
            urls.append(f"{base}/{name}")
    admin.dispose()
    return urls[0], urls[1]


def _drop(url: str, keys_url: str) -> None:
    admin = sa.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        for u in (url, keys_url):
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{u.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def _prepare(url: str, keys_url: str) -> dict:
    """Migrate, load the demo group, an owner, an API client with a webhook endpoint; returns
    what the generator needs to know of the group."""
    from flask_migrate import upgrade

    from portal.core.console import admins
    from portal.core.console.demo import load
    from portal.core.integrations import clients
    from portal.core.kernel.models.group import ConsentText, Topic
    from portal.extensions import db

    app = _app(url, keys_url)
    with app.app_context():
        upgrade()
        group, _ = load()
        group.created_at = NOW - timedelta(days=4 * 365)  # before everyone's first consent
        owner = admins.new_account(group, "owner@scale.example", "owner", [])
        owner.password_hash = admins.hash_password("bench-password-" + "x" * 20)
        db.session.commit()
        topics = db.session.scalars(select_topics(Topic, group.id)).all()
        email_topic = next(t for t in topics if "email" in t.channels)
        sms_topic = next(t for t in topics if "sms" in t.channels and t.id != email_topic.id)
        texts = {
            t.brand_id: db.session.scalar(
                sa.select(ConsentText.id).where(ConsentText.brand_id == t.brand_id).limit(1)
            )
            for t in (email_topic, sms_topic)
        }
        terms = ("Bench: writes captured consent.", NOW.date() - timedelta(days=400))
        _, api_key = clients.create(
            "luxe", "bench-scale", ["consent:write", "consent:read", "events:read"], terms=terms
        )
        db.session.commit()
        info = {
            "group": group.id,
            "owner": owner.id,
            "api_key": api_key,
            "a": (email_topic.brand_id, email_topic.id, texts[email_topic.brand_id]),
            "b": (sms_topic.brand_id, sms_topic.id, texts[sms_topic.brand_id]),
            "brand_b_slug": sms_topic.brand.slug,
            "topic_b_key": sms_topic.key,
        }
        db.session.remove()
        db.engine.dispose()
    return info


def select_topics(Topic, group_id):
    from portal.core.kernel.models.group import Brand

    return (
        sa.select(Topic)
        .join(Brand, Brand.id == Topic.brand_id)
        .where(Brand.group_id == group_id)
        .order_by(Topic.id)
    )


def _indexes(connection) -> list[tuple[str, str]]:
    """The indexes of the loaded tables that no constraint owns: (name, definition)."""
    return connection.execute(
        sa.text(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid::regclass::text = ANY(:tables) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
        ),
        {"tables": list(TABLES)},
    ).all()


def _unique(connection) -> list[tuple[str, str, str]]:
    """The unique constraints (not primary keys) of the loaded tables: (table, name, definition).
    Built once after the load rather than row by row (a chain id is random: each row would
    land on a random page of a 50,000,000-row index)."""
    return connection.execute(
        sa.text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'u' AND conrelid::regclass::text = ANY(:tables)"
        ),
        {"tables": list(TABLES)},
    ).all()


_JOB: dict = {}


def _json(value) -> str:
    return "null" if value is None else f'"{value}"' if isinstance(value, str) else str(value)


def _personal(salt: str, ip, agent) -> str:
    """``ledger._personal_part``'s JSON for these values (plain ASCII, nothing to escape)."""
    return f'{{"salt":"{salt}","ip":{_json(ip)},"user_agent":{_json(agent)},"evidence":null}}'


def _sealed_digest(subject_id: int, personal: str) -> str:
    """``ledger.sealed_digest`` (the JSON of [id, personal]: its quotes escaped)."""
    material = f'[{subject_id},"{personal.replace(chr(34), chr(92) + chr(34))}"]'
    return hashlib.sha256(material.encode()).hexdigest()


def _canonical(values) -> str:
    """``merkle.canonical(ledger.hashed_fields(entry))`` of a per-person chain entry with no
    evidence, no request time, actor "subject", language "en", policy "2026-01"."""
    action, brand, chain, channel, group, occurred, digest, prev, seq, source, text, topic = values
    return (
        f'{{"action":"{action}","actor":"subject","brand":{brand},"chain":"{chain}",'
        f'"channel":"{channel}","evidence":null,"group":{group},"language":"en",'
        f'"occurred_at":"{occurred}","personal":"{digest}","policy_version":"2026-01",'
        f'"prev":"{prev}","requested_at":null,"seq":{seq},"source":"{source}",'
        f'"text_version":{_json(text)},"topic":{topic},"v":2}}'
    )


def _block(number: int) -> list[tuple[int, str, int, int, int]]:
    """Generate and COPY people block ``number`` (people ids number*BLOCK+1 ...); returns the
    Merkle root of each anchor's batch: (anchor id, root, first entry id, last, count)."""
    import psycopg
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from portal.core.consent import ledger, merkle
    from portal.core.kernel.crypto import Keys, seal_personal

    job = _JOB
    keys = Keys(KEYS["PORTAL_DATA_KEY"], KEYS["PORTAL_HASH_KEY"])
    group, per, people = job["group"], job["per"], job["people"]
    first = number * BLOCK + 1
    count = min(BLOCK, people - first + 1)
    (brand_a, topic_a, text_a), (brand_b, topic_b, text_b) = job["a"], job["b"]
    b_count = per - 3
    b_state = "granted" if b_count % 2 else "withdrawn"
    key_rows, subject_rows, consent_rows = [], [], []
    heads = []  # per person: (subject id, ref, aead, chain, created)
    for n in range(first, first + count):
        ref, raw = os.urandom(16).hex(), AESGCM.generate_key(bit_length=256)
        aead = AESGCM(raw)
        key_rows.append((ref, keys.encrypt_bytes(raw, context=ref.encode())))
        address = f"person{n}@scale.example"
        due = n % 1000 == 0
        created = NOW - (
            timedelta(days=1100) if due else timedelta(days=n % 180, seconds=n % 86400)
        )
        active = created + timedelta(days=1)
        subject_rows.append(
            (
                n,
                group,
                keys.keyed_hash(f"{group}:{address}"),
                bytes(seal_personal(ref, aead, address)),
                "active",
                ("en", "fr", "de")[n % 3],
                created,
                active,
                created,
                created,
                ref,
            )
        )
        last_b = created + timedelta(minutes=b_count)
        consent_rows.append(
            (
                n,
                brand_a,
                topic_a,
                "email",
                "granted",
                created,
                "signup_form",
                text_a,
                "2026-01",
                created,
            )
        )
        consent_rows.append(
            (n, brand_b, topic_b, "sms", b_state, last_b, "import", text_b, "2026-01", last_b)
        )
        heads.append((n, ref, aead, secrets.token_hex(16), created))
    # Entry k of every person of the block, then entry k + 1: people's entries interleave in
    # id order as they do when people act over time.
    base_id = number * BLOCK * per + 1
    entry_rows, hashes, prev = [], [], [""] * count
    minutes = [timedelta(minutes=k) for k in range(per)]
    randomness, taken = os.urandom(28 * count * per), 0  # one call: a call per entry costs
    for k in range(per):
        if k < 3:
            action = ("requested", "confirmed", "granted")[k]
            brand, topic, channel, text, source = brand_a, topic_a, "email", text_a, "signup_form"
        else:
            action = "granted" if (k - 3) % 2 == 0 else "withdrawn"
            brand, topic, channel, text, source = brand_b, topic_b, "sms", text_b, "import"
        text = text if action in ("requested", "granted") else None
        for i, (n, ref, aead, chain, created) in enumerate(heads):
            ip, agent = (f"192.0.2.{n % 250}", "Mozilla/5.0 (bench)") if k == 0 else (None, None)
            salt = randomness[taken : taken + 16].hex()
            nonce = randomness[taken + 16 : taken + 28]
            taken += 28
            personal = _personal(salt, ip, agent)
            occurred = created + minutes[k]
            digest = _sealed_digest(n, personal)
            values = (
                action,
                brand,
                chain,
                channel,
                group,
                occurred.isoformat(timespec="microseconds"),
                digest,
                prev[i],
                k + 1,
                source,
                text,
                topic,
            )
            entry_hash = hashlib.sha256(_canonical(values).encode()).hexdigest()
            if i == 0:  # the product's own functions, once per step: the fast path agrees
                assert personal == json.dumps(
                    {"salt": salt, "ip": ip, "user_agent": agent, "evidence": None},
                    separators=(",", ":"),
                )
                assert digest == ledger.sealed_digest(n, personal)
                assert entry_hash == ledger.entry_hash(
                    SimpleNamespace(
                        group_id=group,
                        brand_id=brand,
                        topic_id=topic,
                        channel=channel,
                        action=action,
                        source=source,
                        text_version_id=text,
                        language="en",
                        policy_version="2026-01",
                        occurred_at=occurred,
                        requested_at=None,
                        actor="subject",
                        evidence=None,
                        personal_digest=digest,
                        prev_hash=prev[i],
                        chain=chain,
                        chain_seq=k + 1,
                        seq=None,
                    )
                )
            entry_id = base_id + k * count + i
            header = b"\x03" + bytes.fromhex(ref)
            sealed = header + nonce + aead.encrypt(nonce, personal.encode(), header)
            entry_rows.append(
                (
                    entry_id,
                    group,
                    chain,
                    k + 1,
                    job["anchor_base"] + (entry_id - 1) // SEAL_BATCH + 1,
                    n,
                    brand,
                    topic,
                    channel,
                    action,
                    source,
                    text,
                    "en",
                    "2026-01",
                    occurred,
                    "subject",
                    sealed,
                    digest,
                    prev[i],
                    entry_hash,
                )
            )
            prev[i] = entry_hash
            hashes.append(entry_hash)
    roots = []
    for start in range(0, len(hashes), SEAL_BATCH):
        first_id = base_id + start
        part = hashes[start : start + SEAL_BATCH]
        anchor = job["anchor_base"] + (first_id - 1) // SEAL_BATCH + 1
        roots.append((anchor, merkle.root(part), first_id, first_id + len(part) - 1, len(part)))
    with (
        psycopg.connect(job["keys_url"]) as keys_db,
        keys_db.cursor() as cursor,
        cursor.copy("COPY subject_key (ref, wrapped) FROM STDIN") as copy,
    ):
        for row in key_rows:
            copy.write_row(row)
    with psycopg.connect(job["url"]) as data, data.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no per-row FK checks
        cursor.execute("SET synchronous_commit = off")
        copies = (
            (
                "subject (id, group_id, email_hash, email, status, language, created_at, "
                "active_at, confirmed_at, email_confirmed_at, key_ref)",
                subject_rows,
            ),
            (
                "consent (subject_id, brand_id, topic_id, channel, state, since, source, "
                "text_version_id, policy_version, updated_at)",
                consent_rows,
            ),
            (
                "ledger_entry (id, group_id, chain, chain_seq, anchor_id, subject_id, brand_id, "
                "topic_id, channel, action, source, text_version_id, language, policy_version, "
                "occurred_at, actor, personal, personal_digest, prev_hash, hash)",
                entry_rows,
            ),
        )
        for table, rows in copies:
            with cursor.copy(f"COPY {table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    return roots


def generate(url: str, keys_url: str, info: dict, people: int, rows: int, log) -> dict:
    """People, consents, ledger chains and anchors: seconds spent on each step."""
    per = max(3, rows // people)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    timings = {}
    with engine.connect() as c:
        dropped = _indexes(c)
        for name, _ in dropped:
            c.execute(sa.text(f'DROP INDEX "{name}"'))
        unique = _unique(c)
        for table, name, _ in unique:
            c.execute(sa.text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
        anchor_base = c.execute(sa.text("SELECT coalesce(max(id), 0) FROM ledger_anchor")).scalar()
        base_seq = c.execute(
            sa.text("SELECT coalesce(max(seq), 0) FROM ledger_anchor WHERE group_id = :g"),
            {"g": info["group"]},
        ).scalar()
        anchors = (people * per + SEAL_BATCH - 1) // SEAL_BATCH
        # Placeholders first (the entries name them); filled in once every root is known.
        c.execute(
            sa.text(
                "INSERT INTO ledger_anchor (id, group_id, seq, kind, count, root, prev_hash, "
                "sealed_at, hash) SELECT :base + n, :g, :seq + n, 'merkle', 0, '', '', :at, '' "
                "FROM generate_series(1, :n) n"
            ),
            {"base": anchor_base, "g": info["group"], "seq": base_seq, "at": NOW, "n": anchors},
        )
    _JOB.update(
        group=info["group"],
        per=per,
        people=people,
        a=info["a"],
        b=info["b"],
        url=_libpq(url),
        keys_url=_libpq(keys_url),
        anchor_base=anchor_base,
    )
    blocks = (people + BLOCK - 1) // BLOCK
    started = time.perf_counter()
    roots = []
    with multiprocessing.get_context("fork").Pool(2) as pool:
        for done, part in enumerate(pool.imap_unordered(_block, range(blocks)), start=1):
            roots.extend(part)
            if done % max(1, blocks // 20) == 0 or done == blocks:
                rate = done * BLOCK * per / (time.perf_counter() - started)
                log(f"   {done}/{blocks} blocks, {rate:,.0f} ledger rows/s")
    timings["copy"] = time.perf_counter() - started
    started = time.perf_counter()
    _fill_anchors(engine, info["group"], base_seq, anchor_base, sorted(roots))
    timings["anchors"] = time.perf_counter() - started
    started = time.perf_counter()
    statements = [definition for _, definition in dropped] + [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for table, name, definition in unique
    ]
    # The ledger's first (its indexes are most of the work), then dealt between two
    # connections: one index build is mostly one core, and the machine has two.
    statements.sort(key=lambda statement: "ledger_entry" not in statement)
    _in_parallel(engine, [statements[0::2], statements[1::2]])
    with engine.connect() as c:
        for table, column in (("subject", "id"), ("ledger_entry", "id"), ("ledger_anchor", "id")):
            c.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                    f"(SELECT max({column}) FROM {table}))"
                )
            )
    timings["indexes"] = time.perf_counter() - started
    started = time.perf_counter()
    # The ledger on one connection, everything else on the other (the ledger is most of it).
    _in_parallel(
        engine,
        [
            ["VACUUM ANALYZE ledger_entry"],
            [
                "VACUUM ANALYZE subject",
                "VACUUM ANALYZE consent",
                "VACUUM ANALYZE ledger_anchor",
                "ANALYZE",
            ],
        ],
    )
    keys_engine = sa.create_engine(keys_url, isolation_level="AUTOCOMMIT")
    with keys_engine.connect() as c:
        c.execute(sa.text("VACUUM ANALYZE"))
    keys_engine.dispose()
    timings["vacuum"] = time.perf_counter() - started
    engine.dispose()
    return timings


def _in_parallel(engine, lanes: list[list[str]]) -> None:
    """Run each lane's statements in order on a connection of its own, the lanes at once
    (``maintenance_work_mem`` raised for these sessions: an index of 50,000,000 rows sorts in
    memory in far fewer passes)."""

    def lane(statements: list[str]) -> None:
        with engine.connect() as c:
            c.execute(sa.text("SET maintenance_work_mem = '1GB'"))
            for statement in statements:
                c.execute(sa.text(statement))

    with ThreadPoolExecutor(len(lanes)) as pool:
        for done in [pool.submit(lane, statements) for statements in lanes]:
            done.result()


def _fill_anchors(engine, group_id: int, base_seq: int, anchor_base: int, roots) -> None:
    """Each anchor's root, count and hash, chained to the one before and signed, as
    ``anchors._seal_group`` writes them."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from portal.core.consent import merkle

    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(SIGNING_KEY))
    public = key.public_key().public_bytes_raw().hex()
    with engine.connect() as c:
        previous = (
            c.execute(
                sa.text("SELECT hash FROM ledger_anchor WHERE group_id = :g AND seq = :s"),
                {"g": group_id, "s": base_seq},
            ).scalar()
            or ""
        )
        values = []
        for anchor_id, root, first, last, count in roots:
            fields = {
                "group": group_id,
                "seq": base_seq + anchor_id - anchor_base,
                "kind": "merkle",
                "count": count,
                "root": root,
                "first_entry": first,
                "last_entry": last,
                "prev": previous,
                "sealed_at": NOW.isoformat(timespec="microseconds"),
            }
            digest = merkle.anchor_hash(fields)
            signature = key.sign(merkle.anchor_statement(fields)).hex()
            values.append(
                {
                    "i": anchor_id,
                    "c": count,
                    "r": root,
                    "f": first,
                    "l": last,
                    "p": previous,
                    "h": digest,
                    "s": signature,
                    "k": public,
                }
            )
            previous = digest
        c.execute(
            sa.text(
                "UPDATE ledger_anchor SET count = :c, root = :r, first_entry = :f, "
                "last_entry = :l, prev_hash = :p, hash = :h, signature = :s, public_key = :k "
                "WHERE id = :i"
            ),
            values,
        )


# --- measures ------------------------------------------------------------------------------


def _timed(client, method: str, path: str, **kwargs) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.open(path, method=method, **kwargs)
    body = response.get_data()
    elapsed = time.perf_counter() - started
    if response.status_code != 200 or (path == "/admin/support" and b"consent-row" not in body):
        raise RuntimeError(f"{path} answered {response.status_code} without the person")
    return elapsed, response.status_code


def pages(app, info: dict, people: int, results: Results) -> None:
    from portal.core.kernel import clock

    target = people // 2 + 7
    wanted = [
        ("dashboard", "GET", "/admin/", {}),
        ("audit", "GET", "/admin/audit", {}),
        (
            "support search by address",
            "POST",
            "/admin/support",
            {"data": {"email": f"person{target}@scale.example", "reason": "bench: a complaint"}},
        ),
        ("rules", "GET", "/admin/rules", {}),
    ]
    client = app.test_client()
    with app.app_context():
        from portal.core.console.models import AdminAccount
        from portal.extensions import db

        epoch = db.session.get(AdminAccount, info["owner"]).session_epoch
        db.session.remove()
    for name, method, path, kwargs in wanted:
        times = []
        for _ in range(4):
            with client.session_transaction() as session:
                session.update(admin_id=info["owner"], admin_epoch=epoch)
                session["admin_seen"] = clock.now().timestamp()
            elapsed, status = _timed(client, method, path, **kwargs)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
            times.append(elapsed * 1000)
        median = statistics.median(times[1:])
        results.add(
            f"console {name}: first / median of 3 after", f"{times[0]:,.0f} / {median:,.0f}", "ms"
        )


def _flask(url: str, keys_url: str, *args: str) -> tuple[float, float, str]:
    """Run a flask command in a process of its own: (wall seconds, CPU seconds of it and the
    processes it waited for, its output)."""
    before = os.times()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi:app", *args],
        cwd=ROOT,
        env={
            **os.environ,
            **_env(url, keys_url),
            "PORTAL_ENV": "production",
            "PORTAL_BASE_URL": "http://127.0.0.1:5000",
            "LOG_JSON": "false",
        },
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    if done.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return wall, cpu, done.stdout


def _count(url: str, *tables: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as c:
        found = {t: c.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in tables}
    engine.dispose()
    return found


def lifecycle(url: str, keys_url: str, results: Results) -> None:
    tables = ("outbox_message", "ledger_entry", "lifecycle_notice")
    before = _count(url, *tables)
    wall, _, output = _flask(url, keys_url, "lifecycle", "run")
    after = _count(url, *tables)
    acted = sum(
        int(line.split(" subjects")[0].rsplit(" ", 1)[1])
        for line in output.splitlines()
        if line.endswith("subjects: done")
    )
    touched = ", ".join(f"{t} +{after[t] - before[t]:,}" for t in tables)
    results.add(f"flask lifecycle run: {acted:,} subjects acted on; {touched}", wall, "s")


def verify(url: str, keys_url: str, results: Results) -> None:
    wall, cpu, output = _flask(url, keys_url, "ledger", "verify", "--jobs", "2")
    line = output.strip().splitlines()[-1]
    if "ledger intact" not in line:
        raise RuntimeError(f"flask ledger verify: {output}")
    results.add(f"flask ledger verify, 2 jobs: {line}", wall, "s")
    results.add(
        "flask ledger verify: CPU seconds of its processes / wall seconds (cores busy)",
        f"{cpu:,.0f} / {wall:,.0f} = {cpu / wall:.2f}",
        "",
    )


class _Mailbox:
    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        return "250 OK"


def _smtp():
    """An SMTP server on loopback that accepts and drops every mail (aiosmtpd)."""
    from aiosmtpd.controller import Controller

    from bench.load import _free_port

    port = _free_port()
    controller = Controller(_Mailbox(), hostname="127.0.0.1", port=port)
    controller.start()
    os.environ.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(port))
    return controller


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def steady(app, info: dict, people: int, results: Results, per_round: int) -> None:
    """Rounds of a week: changes through the API (events, webhook deliveries), as many mails
    queued and sent, then retention; the tables' row counts after each round."""
    from portal.core.integrations import idempotency, retention, webhooks
    from portal.core.integrations.models.api import ApiClient
    from portal.core.kernel import clock
    from portal.core.mail import outbox
    from portal.extensions import db

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {info['api_key']}"}
    counts, sizes = [], []
    try:
        with app.app_context():
            api_client = db.session.scalar(
                sa.select(ApiClient).where(ApiClient.name == "bench-scale")
            )
            webhooks.register(
                api_client, f"http://127.0.0.1:{server.server_port}/hook", ["consent.changed"]
            )
            db.session.commit()
            for number in range(ROUNDS):
                clock.freeze(NOW + timedelta(days=ROUND_DAYS * number, hours=1))
                at = clock.now().isoformat()
                changes = [
                    {
                        "key": f"r{number}-{n}",
                        # a round withdraws, the next grants the same people again
                        "email": f"person{(number // 2 * per_round + n) % people + 1}@scale.example",
                        "brand": info["brand_b_slug"],
                        "topic": info["topic_b_key"],
                        "channel": "sms",
                        "action": "withdraw" if number % 2 == 0 else "grant",
                        "captured_at": at,
                        "evidence": {"store": f"store-{n % 40}", "agent": f"agent-{n % 300}"},
                        **({"text_version": 1} if number % 2 else {}),
                    }
                    for n in range(per_round)
                ]
                for start in range(0, len(changes), 1000):
                    answer = client.post(
                        "/api/v1/consents/bulk",
                        json={"changes": changes[start : start + 1000]},
                        headers=headers,
                    )
                    applied = (answer.json or {}).get("counts", {}).get("applied")
                    if answer.status_code != 200 or not applied:
                        raise RuntimeError(
                            f"bulk answered {answer.status_code}: {answer.text[:600]}"
                        )
                for n in range(per_round):
                    outbox.queue(
                        info["group"],
                        (number * per_round + n) % people + 1,
                        "bench",
                        to=f"person{n}@scale.example",
                        sender=["Bench", "bench@scale.example"],
                        subject="A weekly letter",
                        text="Hello",
                        html="<p>Hello</p>",
                    )
                db.session.commit()
                while outbox.send_all(batch=500).handled:
                    pass
                while webhooks.deliver_all(batch=200).handled:
                    pass
                clock.freeze(NOW + timedelta(days=ROUND_DAYS * (number + 1)))
                idempotency.purge()
                while outbox.purge():
                    pass
                while any(retention.purge()):
                    pass
                db.session.remove()
                counts.append(_count_here(db))
                sizes.append(_sizes(db.session, ("event", "outbox_message", "webhook_delivery")))
            clock.freeze(None)
    finally:
        server.shutdown()
    for name in ("event", "outbox_message", "webhook_delivery"):
        line = " / ".join(f"{c[name]:,}" for c in counts)
        results.add(f"{name} rows after each of {ROUNDS} weekly rounds of {per_round:,}", line, "")
    for number in (ROUNDS // 2 - 1, ROUNDS - 1):
        results.add(f"sizes on disk after round {number + 1}", sizes[number], "")
    last = counts[-1]
    plateau = max(counts[-3:], key=lambda c: sum(c.values()))
    level = all(c["event"] <= counts[len(counts) // 2]["event"] * 1.1 for c in counts[-3:])
    results.add(
        "the last rounds' counts stay at the retention window's",
        sum(last.values()),
        "rows",
        "no rising line",
        level and sum(plateau.values()) <= sum(counts[len(counts) // 2].values()) * 1.1,
    )


def _count_here(db) -> dict[str, int]:
    return {
        name: db.session.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar()
        for name in ("event", "outbox_message", "webhook_delivery")
    }


SIZE = (  # a partitioned table's partitions, or the table itself
    "SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(:t)), "
    "pg_total_relation_size(:t))"
)


def _sizes(connection, tables) -> str:
    """Each table's size on disk, its partitions, indexes and TOAST included."""
    return ", ".join(
        f"{t} {connection.execute(sa.text(SIZE), {'t': t}).scalar() / 2**20:,.1f} MB"
        for t in tables
    )


# --- the run -------------------------------------------------------------------------------


STEPS = ("generate", "pages", "lifecycle", "steady", "verify")


def _state_file(tag: str) -> Path:
    """What a kept run knows of its group (ids, the API key) and its figures so far, so a
    later run can measure the same databases without generating them again."""
    return Path(tempfile.gettempdir()) / f"{PREFIX}_{tag}.json"


def run(quick: bool = False) -> list[Figure]:
    """BENCH_SCALE_STEPS (comma-separated, default all of ``STEPS``) picks the steps; without
    ``generate`` the kept databases of this size (BENCH_SCALE_KEEP=1 earlier) are measured."""
    people, rows = QUICK if quick else FULL
    people = int(os.environ.get("BENCH_SCALE_PEOPLE") or people)
    rows = int(os.environ.get("BENCH_SCALE_LEDGER_ROWS") or rows)
    steps = [s.strip() for s in (os.environ.get("BENCH_SCALE_STEPS") or ",".join(STEPS)).split(",")]
    unknown = set(steps) - set(STEPS)
    if unknown:
        raise SystemExit(f"BENCH_SCALE_STEPS: unknown steps {sorted(unknown)}; known: {STEPS}")
    generating = "generate" in steps
    keep = os.environ.get("BENCH_SCALE_KEEP") == "1" or not generating
    tag = f"{people}" if keep else uuid.uuid4().hex[:8]
    results = Results(quick, f"{people:,} people, {rows:,} ledger rows wanted")
    state, info = _state_file(tag), None
    if generating:
        url, keys_url = _databases(tag)
    else:
        if not state.exists():
            raise SystemExit(f"no kept run of {people:,} people ({state} is missing)")
        saved = json.loads(state.read_text())
        url, keys_url, info = saved["url"], saved["keys_url"], saved["info"]
        results.figures = [Figure(**f) for f in saved["figures"]]
    os.environ["PORTAL_KEYS_URL"] = keys_url
    smtp = _smtp()
    try:
        if generating:
            started = time.perf_counter()
            info = _prepare(url, keys_url)
            timings = generate(url, keys_url, info, people, rows, print)
            total = time.perf_counter() - started
            made = _count(url, "subject", "consent", "ledger_entry", "ledger_anchor")
            results.add(
                f"generated {made['subject']:,} people, {made['consent']:,} consents, "
                f"{made['ledger_entry']:,} ledger rows, {made['ledger_anchor']:,} anchors; "
                + ", ".join(f"{k} {v:,.0f} s" for k, v in timings.items()),
                total,
                "s",
            )
        engine = sa.create_engine(url)
        with engine.connect() as c:
            results.add("sizes on disk", _sizes(c, (*TABLES, "ledger_anchor")), "")
        engine.dispose()
        app = _app(url, keys_url)
        if "pages" in steps:
            pages(app, info, people, results)
        if "lifecycle" in steps:
            lifecycle(url, keys_url, results)
            if "pages" in steps:
                pages(app, info, people, results)  # after the run's rows (and its caches) too
        if "steady" in steps:
            steady(
                app,
                info,
                people,
                results,
                per_round=int(os.environ.get("BENCH_SCALE_ROUND") or (300 if quick else 1_000)),
            )
        with app.app_context():
            from portal.extensions import db

            db.engine.dispose()
        if "verify" in steps:
            verify(url, keys_url, results)
    finally:
        smtp.stop()
        if keep:
            figures = [vars(f) for f in results.figures]
            state.write_text(
                json.dumps({"url": url, "keys_url": keys_url, "info": info, "figures": figures})
            )
        else:
            _drop(url, keys_url)
    print(machine())
    return results.figures


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--people", type=int)
    parser.add_argument("--ledger-rows", type=int)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the generated databases")
    args = parser.parse_args()
    if args.people:
        os.environ["BENCH_SCALE_PEOPLE"] = str(args.people)
    if args.ledger_rows:
        os.environ["BENCH_SCALE_LEDGER_ROWS"] = str(args.ledger_rows)
    if args.keep:
        os.environ["BENCH_SCALE_KEEP"] = "1"
    print(Figure.table(run(args.quick)))
