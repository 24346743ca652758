"""Bringing subscribers in from another tool: a CSV of address, topic, channel, original
consent time and source.

A dry run reports line by line what would happen, with a reason for every refusal. A real run
is all-or-nothing per file: one transaction, so a failure half-way leaves nothing behind; the
refused lines are reported and skipped. The command line reads its file as a stream, 5,000
lines at a time, checked and then written in that one transaction (``check``, ``run_file``).
Each imported consent is a ledger row with source "import", its original time and the original
source as evidence. With ``reconfirm`` nothing is imported as given: every address gets a
double opt-in mail instead.
"""

import csv
import hashlib
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.core.consent import changes as consent
from portal.core.consent.changes import Imported, Origin
from portal.core.consent.models import Consent
from portal.core.consent.signup import latest_text
from portal.core.console import audit
from portal.core.console.models import AdminAccount
from portal.core.integrations import lookup
from portal.core.kernel import clock, jobs, many, subject_keys
from portal.core.kernel.errors import InvalidInput, NotFound
from portal.core.kernel.models.group import Brand
from portal.core.kernel.models.job import HELD, Job
from portal.core.kernel.transaction import commit_session
from portal.core.mail import mails
from portal.core.people import locks, subjects
from portal.core.people.models.subject import ACTIVE, Subject
from portal.extensions import db

IMPORT = "import"
REQUIRED = ("email", "topic")
KNOWN = ("email", "topic", "channel", "consented_at", "source", "language")

# Refusal reasons, stable words for the report and the CSV of it.
BAD_ADDRESS, UNKNOWN_TOPIC, BAD_CHANNEL = "bad address", "unknown topic", "channel not offered"
BAD_TIME, DUPLICATE, ALREADY = "bad consent time", "duplicate", "already recorded"
# An address on the suppression list (an erased person) is refused with SUPPRESSED.
SUPPRESSED = "suppressed"
# Lines read and checked at a time, and people inserted at a time.
BATCH = 5000
# Consents (and their ledger rows) written at a time: their statements' parameters are most of
# an import's memory (about 3.6 KB a line while they are built), a fifth of a batch keeps the
# peak of a 100,000-line import under 200 MB.
WRITES = 1000


@dataclass(slots=True)  # a batch of a file (``plans``) is 5,000 of these
class Line:
    number: int
    email: str
    topic: str
    channel: str
    reason: str = ""  # empty when the line is accepted
    address: str = ""
    digest: str = ""  # keyed hash of the address in the brand's group
    topic_id: int = 0
    consented_at: datetime | None = None
    source: str = ""
    language: str = ""


@dataclass
class Plan:
    brand: Brand
    reconfirm: bool
    lines: list[Line] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    existing: dict[str, int] = field(default_factory=dict)  # address hash -> subject id
    # Subjects with a consent at the brand already: the others are new to whoever imports.
    with_brand: set[int] = field(default_factory=set)

    @property
    def accepted(self) -> list[Line]:
        return [line for line in self.lines if not line.reason]

    @property
    def refused(self) -> list[Line]:
        return [line for line in self.lines if line.reason]


@dataclass
class Outcome:
    imported: int = 0
    new_subjects: int = 0
    asked: int = 0


# A plain ASCII dot-atom local part, which validate_email accepts as it is; anything else
# (quoted, Unicode, odd) takes the full check. Domains repeat, so their check is cached.
_DOT_ATOM = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


@lru_cache(maxsize=4096)
def _domain(domain: str) -> str | None:
    try:
        return validate_email(f"postmaster@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None


def _address(raw: str) -> str | None:
    """The normalised address, as ``subjects.normalise_email`` gives it, or None."""
    value = (raw or "").strip().lower()
    local, at, domain = value.rpartition("@")
    if at and len(value) <= 254 and len(local) <= 64 and _DOT_ATOM.match(local):
        checked = _domain(domain)
        return f"{local}@{checked}" if checked else None
    try:
        valid = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return None
    return valid.normalized.lower() if subjects.mailable(valid) else None


def _moment(raw: str, now: datetime) -> datetime | None:
    try:
        moment = datetime.fromisoformat((raw or "").strip())
    except ValueError:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment if moment <= now else None


def plan(
    brand: Brand,
    rows: Iterable[str],
    reconfirm: bool = False,
    languages=("en",),
    first_line: int = 2,
) -> Plan:
    """Read and check a CSV (an iterable of text lines); raises InvalidInput for the whole file.
    ``first_line``: the number of the first line after the header (a job's later batches).
    The whole file's lines are held: for the console's report; ``check`` and ``run_file``
    read a file of any size batch by batch."""
    whole = None
    for part in plans(brand, rows, reconfirm, languages, first_line):
        if whole is None:
            whole = part
            continue
        whole.lines.extend(part.lines)
        whole.existing.update(part.existing)
        whole.with_brand |= part.with_brand
    return whole


def plans(
    brand: Brand,
    rows: Iterable[str],
    reconfirm: bool = False,
    languages=("en",),
    first_line: int = 2,
    size: int | None = None,
) -> Iterator[Plan]:
    """``plan`` of ``size`` lines at a time, read as they are needed: duplicates are found
    across the whole file, and each batch is checked against the database when it is read, so
    a batch read after the previous one was written sees it (a person the file names twice is
    made once). ``size``: BATCH lines. Yields at least one plan (without lines for a file of a
    header alone)."""
    reader = csv.DictReader(rows)
    try:
        header = [name.strip().lower() for name in (reader.fieldnames or [])]
    except csv.Error:
        raise _unreadable(reader) from None
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise InvalidInput(
            "file", _l("The file needs the columns %(columns)s.", columns=", ".join(missing))
        )
    if not reconfirm and "consented_at" not in header:
        raise InvalidInput(
            "file", _l("The file needs a consented_at column (the original consent time).")
        )
    reader.fieldnames = header
    ignored = [h for h in header if h not in KNOWN]
    topics = {topic.key: topic for topic in brand.topics}
    now, seen = clock.now(), set()
    numbered = enumerate(_rows_of(reader), start=first_line)
    first = True
    while (chunk := list(itertools.islice(numbered, size or BATCH))) or first:
        first = False
        result = Plan(brand, reconfirm, ignored_columns=ignored)
        for number, row in chunk:
            result.lines.append(_line(brand, topics, number, row, reconfirm, now, seen, languages))
        _refuse_recorded(result)
        yield result


def _line(brand, topics, number, row, reconfirm, now, seen, languages) -> Line:
    line = Line(
        number,
        (row.get("email") or "").strip(),
        (row.get("topic") or "").strip(),
        (row.get("channel") or "email").strip().lower(),
        source=(row.get("source") or "").strip()[:100],
        language=(row.get("language") or "").strip().lower(),
    )
    line.address = _address(line.email) or ""
    topic = topics.get(line.topic)
    if not reconfirm:
        line.consented_at = _moment(row.get("consented_at"), now)
    if not line.address:
        line.reason = BAD_ADDRESS
    elif topic is None:
        line.reason = UNKNOWN_TOPIC
    elif line.channel not in topic.channels or (reconfirm and line.channel != "email"):
        line.reason = BAD_CHANNEL
    elif not reconfirm and line.consented_at is None:
        line.reason = BAD_TIME
    elif (key := _seen_key(line)) in seen:
        line.reason = DUPLICATE
    else:
        seen.add(key)
        line.topic_id = topic.id
    if line.language not in languages:
        line.language = brand.group.default_language
    return line


def _seen_key(line: Line) -> bytes:
    """What makes a line a duplicate of an earlier one (address, topic, channel), in 16 bytes:
    a whole file's are held to its end (a 128-bit digest: two different lines never meet)."""
    text = f"{line.address}\n{line.topic}\n{line.channel}".encode()
    return hashlib.blake2b(text, digest_size=16).digest()


@dataclass
class Check:
    """What ``check`` found in a whole file, without its lines."""

    accepted: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    ignored_columns: list[str] = field(default_factory=list)
    # Ids of the people the file names who are known already (``run_file`` locks them first).
    known: set[int] = field(default_factory=set)


def check(brand: Brand, rows: Iterable[str], reconfirm: bool = False, languages=("en",)):
    """``plan`` of a file of any size, keeping only counts, refusals and the people known: the
    dry run of ``flask import subscribers``, and its report before the real run."""
    found = Check()
    for part in plans(brand, rows, reconfirm, languages):
        found.ignored_columns = part.ignored_columns
        found.refused.extend((line.number, line.reason) for line in part.refused)
        found.accepted += len(part.lines) - len(part.refused)
        found.known.update(part.existing.values())
    return found


def run_file(
    admin: AdminAccount | None,
    brand: Brand,
    rows: Iterable[str],
    filename: str,
    reconfirm: bool = False,
    languages=("en",),
    known: Iterable[int] = (),
    progress: Callable = None,
) -> Outcome:
    """``run`` of a whole file read as a stream (``plans``): still one transaction, all or
    nothing, but never more than a batch of its lines in memory. ``known`` (``check``'s): the
    people locked first, in id order, so that two imports wait for each other and never
    deadlock (``_subject_ids`` locks anyone who appeared since, batch by batch)."""
    progress = progress or (lambda done: None)
    outcome, actor = Outcome(), admin.label if admin is not None else "cli"
    lines = refused = 0
    with commit_session():
        locks.subjects(sorted(known))
        for part in plans(brand, rows, reconfirm, languages):
            _write(part, filename, outcome, progress, actor)
            lines += len(part.lines)
            refused += len(part.refused)
        _audit(brand, admin, filename, lines, refused, outcome, reconfirm)
    return outcome


def _unreadable(reader: csv.DictReader) -> InvalidInput:
    return InvalidInput("file", _l("Line %(line)s cannot be read as CSV.", line=reader.line_num))


def _rows_of(reader: csv.DictReader):
    """The reader's rows; a line the csv module refuses (a field beyond its size limit, say)
    refuses the file with a message naming the line, rather than failing the request."""
    try:
        yield from reader
    except csv.Error:
        raise _unreadable(reader) from None


def _refuse_recorded(result: Plan) -> None:
    """Refuse lines whose person already has a consent row for that topic and channel: an
    import never overrides what a person chose here."""
    group_id = result.brand.group_id
    digests = subjects.address_hashes(group_id, [line.address for line in result.accepted])
    for line, digest in zip(result.accepted, digests, strict=True):
        line.digest = digest
    hashes = sorted({line.digest for line in result.accepted})
    suppressed = lookup.suppressed(group_id, hashes)
    for line in result.accepted:
        if line.digest in suppressed:  # erased people are never re-targeted by an import
            line.reason = SUPPRESSED
    result.existing.update(
        db.session.execute(
            select(Subject.email_hash, Subject.id).where(
                Subject.group_id == group_id, many.among(Subject.email_hash, hashes)
            )
        ).all()
    )
    held = set(
        db.session.execute(
            select(Consent.subject_id, Consent.topic_id, Consent.channel).where(
                many.among(Consent.subject_id, sorted(result.existing.values())),
                Consent.brand_id == result.brand.id,
            )
        ).all()
    )
    result.with_brand = {subject_id for subject_id, _, _ in held}
    for line in result.accepted:
        subject_id = result.existing.get(line.digest)
        if subject_id and (subject_id, line.topic_id, line.channel) in held:
            line.reason = ALREADY


def run(admin: AdminAccount | None, result: Plan, filename: str, progress: Callable = None):
    """Write the accepted lines of a plan in one transaction (all or nothing): what
    ``flask admins import`` does; the console runs a job instead (``hold``)."""
    progress = progress or (lambda done: None)
    brand, outcome = result.brand, Outcome()
    actor = admin.label if admin is not None else "cli"
    with commit_session():
        _write(result, filename, outcome, progress, actor)
        _audit(
            brand,
            admin,
            filename,
            len(result.lines),
            len(result.refused),
            outcome,
            result.reconfirm,
        )
    return outcome


def _write(result: Plan, filename: str, outcome: Outcome, progress, actor: str) -> None:
    if result.reconfirm:
        _reconfirm(result, outcome, progress, actor)
    else:
        _import(result, filename, outcome, progress, actor)


def _audit(brand, admin, filename, lines, refused, outcome: Outcome, reconfirm, job_id=None):
    after = {
        "file": filename[:100],
        "lines": lines,
        "refused": refused,
        "imported": outcome.imported,
        "asked": outcome.asked,
        "new_subjects": outcome.new_subjects,
        "reconfirm": reconfirm,
    }
    if job_id is not None:
        after["job"] = job_id
    audit.record(
        brand.group_id, admin, "import.run", f"brand:{brand.id}", brand_id=brand.id, after=after
    )


def _subject_ids(result: Plan, outcome: Outcome) -> dict[str, int]:
    """address hash -> subject id, creating (as active) the subjects not known yet."""
    group_id, ids = result.brand.group_id, dict(result.existing)
    new = {}
    for line in result.accepted:
        if line.digest not in ids and line.digest not in new:
            new[line.digest] = line
    # Inserted 5,000 at a time: never the rows of a whole file (each with its sealed address)
    # in memory at once.
    pending = iter(new.items())
    while batch := list(itertools.islice(pending, BATCH)):
        refs = [subject_keys.new_key(db.session) for _ in batch]
        rows = [
            {
                "group_id": group_id,
                "email_hash": digest,
                "key_ref": ref,
                "email": subject_keys.seal(ref, line.address),
                "status": ACTIVE,
                "language": line.language,
                "created_at": (now := clock.now()),
                "active_at": now,  # joining is activity (``lifecycle.activity``)
                "confirmed_at": None,
            }
            for (digest, line), ref in zip(batch, refs, strict=True)
        ]
        created = db.session.execute(
            Subject.__table__.insert().returning(Subject.email_hash, Subject.id), rows
        ).all()
        ids.update(created)
        locks.created(subject_id for _, subject_id in created)
    # New to the brand, not to the group: a brand admin must not learn who is known at other
    # brands (people with other brands only read as new).
    outcome.new_subjects += len(
        {
            line.digest
            for line in result.accepted
            if result.existing.get(line.digest) not in result.with_brand
        }
    )
    # Everyone the import writes about is locked first, in id order (their ledger chains
    # and feed events included), so two imports wait for each other and never deadlock.
    locks.subjects(sorted(result.existing.values()))
    return ids


def _import(result: Plan, filename: str, outcome: Outcome, progress, actor: str) -> None:
    ids = _subject_ids(result, outcome)
    topics = {topic.id: topic for topic in result.brand.topics}
    group_id = result.brand.group_id
    origin = Origin(source="import", actor=actor)
    accepted = result.accepted
    for start in range(0, len(accepted), WRITES):
        batch = accepted[start : start + WRITES]
        items = [
            Imported(
                subject_id=ids[line.digest],
                topic=topics[line.topic_id],
                channel=line.channel,
                occurred_at=line.consented_at,
                evidence={
                    "original_source": line.source,
                    "file": filename[:100],
                    "line": line.number,
                },
            )
            for line in batch
        ]
        outcome.imported += consent.record_imported(group_id, items, origin)
        progress(len(batch))


def _reconfirm(result: Plan, outcome: Outcome, progress, actor: str) -> None:
    """Ask every address by mail to confirm (double opt-in) instead of importing consent."""
    brand, text = result.brand, latest_text(result.brand)
    topics = {topic.id: topic for topic in brand.topics}
    wanted: dict[str, list[Line]] = {}
    for line in result.accepted:
        wanted.setdefault(line.address, []).append(line)
    origin = Origin(source="import", actor=actor, evidence={"reconfirm": True})
    people = {
        address: subjects.find_or_create(brand.group_id, address, lines[0].language)
        for address, lines in wanted.items()
    }
    # Everyone is locked (in id order) before anything is written; a sign-up of one of them
    # meanwhile waits, or is waited for, and never fails the import.
    locks.subjects(subject.id for subject in people.values())
    for address, lines in wanted.items():
        subject = people[address]
        chosen = [topics[line.topic_id] for line in lines]
        pending = consent.request(
            subject, chosen, "email", text, subject.language, brand.policy_version, origin
        )
        if pending is not None:
            mails.confirm_signup(pending)
            outcome.asked += 1
        progress(len(lines))


# Reading the file as people save it: Excel writes semicolons in French and German locales,
# and Windows-1252 when "CSV" rather than "CSV UTF-8" is chosen.
DELIMITERS = ",;\t"


def decode(content: bytes) -> str:
    """The text of an uploaded file: UTF-8 (with or without a byte-order mark), else
    Windows-1252; InvalidInput for what is not text at all."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("cp1252")
        except UnicodeDecodeError:
            raise InvalidInput("file", _l("The file must be CSV text.")) from None
    if "\x00" in text:
        raise InvalidInput("file", _l("The file must be CSV text."))
    return text


def normalise(text: str) -> str:
    """The same rows as comma-separated CSV, whatever separator the header line shows."""
    header = text.split("\n", 1)[0]
    try:
        dialect = csv.Sniffer().sniff(header, delimiters=DELIMITERS)
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    if delimiter == ",":
        return text
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    try:
        writer.writerows(reader)
    except csv.Error:
        raise _unreadable(reader) from None
    return out.getvalue()


def hold(
    admin: AdminAccount, brand: Brand, text: str, filename: str, reconfirm: bool, languages
) -> tuple[Plan, Job]:
    """Check a file and keep it, encrypted, in a held job until the admin confirms it
    (``release``) or IMPORT_HOLD_HOURS pass; returns the check's report and the job."""
    text = normalise(text)
    result = plan(brand, io.StringIO(text, newline=""), reconfirm, languages)
    with commit_session():
        job = jobs.start(
            IMPORT,
            brand.group_id,
            admin.label,
            len(result.lines),
            brand_id=brand.id,
            admin_id=admin.id,
            params={
                "filename": filename[:100],
                "reconfirm": reconfirm,
                "languages": list(languages),
            },
            payload=text,
            held=True,
        )
    return result, job


def release(admin: AdminAccount, job_id: int) -> Job:
    """Start the held import ``job_id`` that ``admin`` checked; NotFound if there is none
    (another admin's, already started, or expired)."""
    job = db.session.get(Job, job_id)
    if job is None or job.kind != IMPORT or job.state != HELD or job.admin_id != admin.id:
        raise NotFound("no import waiting for confirmation")
    with commit_session():
        jobs.release(job)
    return job


@jobs.handler(IMPORT)
def import_batch(job: Job, params: dict, limit: int) -> jobs.Batch:
    """Check and write the next ``limit`` lines of the file. The cursor is the number of lines
    done and where the next starts in the text, so no batch reads the file from the top.
    Refused lines are the job's failures, with their line number and reason."""
    brand = db.session.get(Brand, job.brand_id)
    done, _, offset = (job.cursor or "0:0").partition(":")
    source = io.StringIO(job.payload, newline="")
    header = next(csv.reader(source), [])
    source.seek(max(int(offset or 0), source.tell()))
    rows = list(itertools.islice(csv.reader(source), limit))
    chunk = io.StringIO()
    csv.writer(chunk, lineterminator="\n").writerows([header, *rows])
    result = plan(
        brand,
        io.StringIO(chunk.getvalue(), newline=""),
        params["reconfirm"],
        params["languages"],
        first_line=int(done) + 2,
    )
    outcome = Outcome()
    _write(result, params["filename"], outcome, lambda n: None, job.created_by)
    batch = jobs.Batch(
        done=len(result.accepted),
        failures=[(f"line {line.number}", line.reason) for line in result.refused],
        cursor=f"{int(done) + len(rows)}:{source.tell()}",
        finished=len(rows) < limit,
    )
    if batch.finished:
        admin = db.session.get(AdminAccount, job.admin_id) if job.admin_id else None
        lines = job.done + batch.done  # accepted lines, each imported or asked about
        reconfirm = params["reconfirm"]
        total = Outcome(imported=0 if reconfirm else lines, asked=lines if reconfirm else 0)
        _audit(
            brand,
            admin,
            params["filename"],
            job.total,
            job.failed + len(batch.failures),
            total,
            params["reconfirm"],
            job.id,
        )
    return batch
