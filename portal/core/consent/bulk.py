"""Consent captured elsewhere, up to 1,000 changes at once: a CRM syncing its records.

Each change is decided on its own by the rules of ``recording.record`` (the order of capture,
double opt-in, the suppression list, brand walls) and answered on its own: applied, unchanged,
stale, or refused with its reason, which spoils no other change. Each carries its own
idempotency key: a change already answered under its key gets that answer again, with no
second effect, whichever request carries it.

The work is done for all changes together, in one transaction, so a thousand changes cost a
few dozen statements rather than twenty thousand: one read of the answers kept under their
keys, of the people, of the suppression list and of the consents; the new people added in one
statement; every person's lock taken in one statement, in id order (two bulk requests about
the same people in opposite orders wait for each other, never deadlock: see
``portal.core.people.locks``); then one statement each for the ledger rows, the events and the
kept answers. Refusals are decided before anything is written; anything failing after that
(a lock waited for too long) fails the request as a whole, changing nothing, and the client
sends it again with the same keys.
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import Row, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from portal.core.consent import changes as consent
from portal.core.consent.changes import Origin
from portal.core.consent.models import GRANT as GRANT_ACTION
from portal.core.consent.models import GRANTED, PENDING, REQUESTED, WITHDRAWAL, WITHDRAWN
from portal.core.consent.recording import (
    APPLIED,
    STALE,
    UNCHANGED,
    WITHDRAW,
    Capture,
    check_time,
    consent_text,
    group_created,
)
from portal.core.integrations import idempotency, lookup
from portal.core.integrations.models.api import ApiClient
from portal.core.kernel import clock, many
from portal.core.kernel.errors import InvalidInput, Refused
from portal.core.kernel.models.group import ConsentText, Topic
from portal.core.kernel.transaction import commit_session
from portal.core.mail import mails
from portal.core.people import locks, subjects
from portal.core.people.models.subject import ACTIVE, Subject
from portal.core.people.models.subject import PENDING as NEW_SUBJECT
from portal.extensions import db

MAX_CHANGES = 1000


@dataclass(frozen=True)
class Change:
    """One change of a bulk request: its idempotency key, the fingerprint of what it says (the
    same key saying something else is refused), and the capture itself."""

    key: str
    fingerprint: str
    capture: Capture


@dataclass
class _Item:
    index: int
    change: Change
    topic: Topic
    address: str
    email_hash: str
    text: ConsentText | None = None


def record_many(
    client: ApiClient, changes: list[Change | Exception], ip: str | None, user_agent: str | None
) -> list[dict | Exception]:
    """Decide and record ``changes`` (an Exception stands for a change the caller could not
    read: it is answered as it is); returns, in the same order, each change's answer (the
    fields of ``recording.record``'s plus ``key``) or the exception refusing it (InvalidInput,
    Refused or ``idempotency.KeyReused``). One transaction, committed here."""
    try:
        with commit_session():
            return _Bulk(client, ip, user_agent).run(changes)
    except IntegrityError:
        # Another request kept an answer under one of these keys meanwhile: everything here
        # was rolled back, and the second run answers those changes with what was kept.
        with commit_session():
            return _Bulk(client, ip, user_agent).run(changes)


class _Bulk:
    def __init__(self, client: ApiClient, ip: str | None, user_agent: str | None):
        self.client, self.ip, self.user_agent = client, ip, user_agent
        self.group_id = client.group_id
        self.topics: dict[tuple[str, str, str], Topic | Exception] = {}
        self.texts: dict[tuple[int, int | None], ConsentText | Exception] = {}
        self.batch = consent.Batch(self.group_id)
        self.created = group_created(client)
        self.activated: set[int] = set()

    def run(self, changes: list[Change | Exception]) -> list[dict | Exception]:
        answers: list = list(changes)
        stored = idempotency.stored_many(
            self.client.id, [c.key for c in changes if isinstance(c, Change)]
        )
        first: dict[str, int] = {}
        repeats: list[tuple[int, int]] = []
        items: list[_Item] = []
        for index, change in enumerate(changes):
            if isinstance(change, Exception):
                continue
            if change.key in stored:
                fingerprint, answer = stored[change.key]
                same = fingerprint == change.fingerprint
                answers[index] = answer if same else idempotency.KeyReused()
            elif change.key in first:
                same = changes[first[change.key]].fingerprint == change.fingerprint
                if same:
                    repeats.append((index, first[change.key]))
                else:
                    answers[index] = idempotency.KeyReused()
            else:
                first[change.key] = index
                try:
                    items.append(self._read(index, change))
                except (InvalidInput, Refused) as refusal:
                    answers[index] = refusal
        self._decide(items, answers)
        for index, original in repeats:
            answers[index] = answers[original]
        idempotency.keep_many(
            self.client.id,
            [
                (item.change.key, item.change.fingerprint, 200, answers[item.index])
                for item in items
                if isinstance(answers[item.index], dict)
            ],
        )
        return answers

    def _read(self, index: int, change: Change) -> _Item:
        """The change's topic, address and text, checked as ``recording.record`` checks them."""
        capture = change.capture
        topic = self._topic(capture)
        check_time(self.client, capture.captured_at, self.created)
        address = subjects.normalise_email(capture.email)
        item = _Item(index, change, topic, address, "")
        if capture.action != WITHDRAW:
            item.text = self._text(topic.brand_id, capture.text_version)
        return item

    def _topic(self, capture: Capture) -> Topic:
        key = (capture.brand, capture.topic, capture.channel)
        if key not in self.topics:
            try:
                self.topics[key] = lookup.topic_of(self.client, *key)
            except InvalidInput as refusal:
                self.topics[key] = refusal
        found = self.topics[key]
        if isinstance(found, Exception):
            raise found
        return found

    def _text(self, brand_id: int, version: int | None) -> ConsentText:
        key = (brand_id, version)
        if key not in self.texts:
            try:
                self.texts[key] = consent_text(brand_id, version)
            except InvalidInput as refusal:
                self.texts[key] = refusal
        found = self.texts[key]
        if isinstance(found, Exception):
            raise found
        return found

    def _people(self, items: list[_Item], answers: list) -> dict[str, Row]:
        """The people the changes name, by address hash: those who are known, and a new
        (pending) person for each new address granting something. Grants to suppressed
        addresses are refused here."""
        hashes = subjects.address_hashes(self.group_id, [item.address for item in items])
        for item, email_hash in zip(items, hashes, strict=True):
            item.email_hash = email_hash
        grants = [item for item in items if item.change.capture.action != WITHDRAW]
        suppressed = lookup.suppressed(self.group_id, [item.email_hash for item in grants])
        for item in grants:
            if item.email_hash in suppressed:
                answers[item.index] = Refused(
                    "suppressed", _l("This address is suppressed: only withdrawals are accepted.")
                )
        people = self._known(hashes)
        new = {}
        for item in grants:
            if item.email_hash not in people and item.email_hash not in suppressed:
                language = item.change.capture.language or self.client.group.default_language
                new.setdefault(item.email_hash, (item.address, language))
        if new:
            self._add_people(new)
            people.update(self._known(list(new)))
        return people

    def _known(self, hashes: list[str]) -> dict[str, Row]:
        """The people at ``hashes``: id, hash, status and language only (a thousand whole
        subjects would each have their address decrypted, for nothing)."""
        found = db.session.execute(
            select(Subject.id, Subject.email_hash, Subject.status, Subject.language).where(
                Subject.group_id == self.group_id, many.among(Subject.email_hash, hashes)
            )
        )
        return {subject.email_hash: subject for subject in found}

    def _add_people(self, new: dict[str, tuple[str, str]]) -> None:
        """One INSERT ... ON CONFLICT DO NOTHING for every new address, in hash order: two
        requests adding the same new people wait for each other in the same order."""
        dialect = db.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        now = clock.now()
        db.session.execute(
            insert(Subject.__table__).on_conflict_do_nothing(
                index_elements=["group_id", "email_hash"]
            ),
            [
                {
                    "group_id": self.group_id,
                    "email_hash": email_hash,
                    "email": address,
                    "status": NEW_SUBJECT,
                    "language": language,
                    "created_at": now,
                    "active_at": now,  # joining is activity (``lifecycle.activity``)
                }
                for email_hash, (address, language) in sorted(new.items())
            ],
        )

    def _decide(self, items: list[_Item], answers: list) -> None:
        if not items:
            return
        people = self._people(items, answers)
        items = [item for item in items if not isinstance(answers[item.index], Exception)]
        ids = sorted({subject.id for subject in people.values()})
        locks.subjects(ids)  # every person's lock, in id order, before anything is read
        held = self.batch.held(ids)
        visible = self._visible(ids, held)
        receipts: dict[int, int] = {}
        for item in items:
            capture = item.change.capture
            subject = people.get(item.email_hash)
            if capture.action == WITHDRAW:
                if subject is not None and subject.id not in visible:
                    subject = None  # someone only with other brands reads exactly like no one
                answer, entry = self._withdraw(item, subject, held)
            else:
                visible.add(subject.id)  # a grant at the client's brand: from now on, seen
                answer, entry = self._grant(item, subject, held)
            answers[item.index] = answer
            if entry is not None:
                receipts[item.index] = entry
        hashes = self.batch.write()
        if self.activated:  # an address a verified source vouches for, as ``record`` does
            db.session.execute(
                update(Subject)
                .where(many.among(Subject.id, sorted(self.activated)))
                .where(Subject.status != ACTIVE)
                .values(status=ACTIVE, confirmed_at=clock.now())
            )
        for index, entry in receipts.items():
            answers[index]["receipt"] = hashes[entry]
        for pending in self.batch.asked:
            mails.confirm_signup(pending)

    def _visible(self, ids: list[int], held: dict) -> set[int]:
        """The people among ``ids`` the client may know of (see ``lookup.sees``): everyone for
        a client of the whole group, else those with a consent at one of its brands."""
        if self.client.brand_ids is None:
            return set(ids)
        brands = set(self.client.brand_ids)
        return {row.subject_id for row in held.values() if row.brand_id in brands}

    def _origin(self, capture: Capture) -> Origin:
        evidence = {**capture.evidence, "captured_at": capture.captured_at.isoformat()}
        actor = f"api:{self.client.name}"[:80]
        return Origin("api", actor, self.ip, self.user_agent, evidence)

    def _answer(self, item, subject, row, result, changed) -> dict:
        capture = item.change.capture
        return {
            "key": item.change.key,
            "brand": item.topic.brand.slug,
            "topic": item.topic.key,
            "channel": capture.channel,
            "subject_id": subject.id if subject is not None else None,
            "state": row.state if row is not None and row.state else lookup.UNKNOWN,
            "changed": changed,
            "result": result,
            "receipt": None,
        }

    def _withdraw(self, item: _Item, subject: Row | None, held: dict):
        capture = item.change.capture
        if subject is None:
            return self._answer(item, None, None, UNCHANGED, False), None
        row = held.get((subject.id, item.topic.id, capture.channel))
        at, origin = capture.captured_at, self._origin(capture)
        if row is not None and row.since is not None and at < row.latest:
            entry = self.batch.change(
                subject.id, item.topic, capture.channel, WITHDRAWAL, origin, at
            )
            return self._answer(item, subject, row, STALE, False), entry
        if row is None or row.state == WITHDRAWN:
            entry = self.batch.repeat(row, item.topic, origin, at) if row is not None else None
            return self._answer(item, subject, row, UNCHANGED, False), entry
        entry = self.batch.change(
            subject.id,
            item.topic,
            capture.channel,
            WITHDRAWAL,
            origin,
            at,
            row=row,
            state=WITHDRAWN,
        )
        return self._answer(item, subject, row, APPLIED, True), entry

    def _grant(self, item: _Item, subject: Row, held: dict):
        capture, topic, text = item.change.capture, item.topic, item.text
        channel, at, origin = capture.channel, capture.captured_at, self._origin(capture)
        language = capture.language or subject.language
        double_opt_in = channel == "email" and not self.client.verified_source
        action = REQUESTED if double_opt_in else GRANT_ACTION
        row = held.get((subject.id, topic.id, channel))
        if row is not None and row.since is not None and at < row.latest:
            entry = self.batch.change(
                subject.id, topic, channel, action, origin, at, text=text, language=language
            )
            return self._answer(item, subject, row, STALE, False), entry
        if row is not None and row.state == GRANTED:
            entry = self.batch.repeat(row, topic, origin, at, text=text, language=language)
            return self._answer(item, subject, row, UNCHANGED, False), entry
        row = self.batch.row(subject.id, topic, channel)
        state = PENDING if double_opt_in else GRANTED
        entry = self.batch.change(
            subject.id,
            topic,
            channel,
            action,
            origin,
            at,
            row=row,
            state=state,
            text=text,
            language=language,
        )
        if channel == "email" and not double_opt_in and subject.status != ACTIVE:
            self.activated.add(subject.id)
        return self._answer(item, subject, row, APPLIED, True), entry
