"""Grant, confirm and withdraw consent: the only code that writes consent state and ledger rows.

Every function here works inside the caller's transaction and leaves committing to the
operation that called it, so a consent change, its ledger row, its change-feed event
(``events.consent_changed``) and its mail land together or not at all.
"""

import ipaddress
import json
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import bindparam, func, select, update

from portal.core.consent import ledger
from portal.core.consent.models import (
    CONFIRMED,
    EXPIRED,
    GRANT,
    GRANTED,
    PENDING,
    REAFFIRMED,
    REPEATS,
    REQUESTED,
    SUPPRESSION_LIFTED,
    WITHDRAWAL,
    WITHDRAWN,
    WITHDRAWN_AGAIN,
    Consent,
    LedgerEntry,
    SignupRequest,
)
from portal.core.integrations import events
from portal.core.kernel import clock, many
from portal.core.kernel.models.group import ConsentText, Topic
from portal.core.people import locks, subjects
from portal.core.people.models.subject import Subject
from portal.extensions import db


@lru_cache(maxsize=256)  # a bulk request makes a thousand changes from one address
def truncate_ip(raw: str | None) -> str | None:
    """Keep only the network part: /24 for IPv4, /48 for IPv6 (enough as proof, not a person)."""
    if not raw:
        return None
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


@dataclass(frozen=True)
class Origin:
    """Who made a change, through what, from where: the provenance every ledger row carries."""

    source: str
    actor: str
    ip: str | None = None
    user_agent: str | None = None
    evidence: dict | None = field(default=None)

    def __post_init__(self):
        object.__setattr__(self, "ip", truncate_ip(self.ip))
        if self.user_agent:
            object.__setattr__(self, "user_agent", self.user_agent[:500])


# Ledger rows a retention rule writes (actor ``retention:<rule>``) are not the person's doing:
# they do not count as activity (``lifecycle.activity`` reads the ledger the same way).
RETENTION_ACTOR = "retention:"


def _active(entries) -> None:
    """The people of ledger rows ``entries`` (their fields) were active when the rows say."""
    times = {}
    for entry in entries:
        person, at = entry.get("subject_id"), entry["occurred_at"]
        if person is None or entry["actor"].startswith(RETENTION_ACTOR):
            continue
        times[person] = max(at, times.get(person, at))
    subjects.was_active(times)


def _record(
    subject: Subject,
    topic: Topic,
    channel: str,
    action: str,
    origin: Origin,
    *,
    text_version_id=None,
    language=None,
    policy_version=None,
    requested_at=None,
    occurred_at=None,
):
    entry = ledger.append(
        subject.group_id,
        subject_id=subject.id,
        brand_id=topic.brand_id,
        topic_id=topic.id,
        channel=channel,
        action=action,
        source=origin.source,
        text_version_id=text_version_id,
        language=language,
        policy_version=policy_version,
        occurred_at=occurred_at or clock.now(),
        requested_at=requested_at,
        actor=origin.actor,
        evidence=origin.evidence,
        ip=origin.ip,
        user_agent=origin.user_agent,
    )
    _active([{"subject_id": subject.id, "occurred_at": entry.occurred_at, "actor": origin.actor}])
    return entry


def current(subject: Subject) -> dict[tuple[int, str], Consent]:
    """The subject's consents, by (topic id, channel)."""
    rows = db.session.scalars(select(Consent).where(Consent.subject_id == subject.id))
    return {(row.topic_id, row.channel): row for row in rows}


def lock(subject: Subject) -> None:
    """Take the subject's row lock until the transaction ends (see ``portal.core.people.locks``).

    Changes to one person's consents then run one at a time, each deciding on what is stored
    when it runs: two windows turning the same consent on at once give one grant and one
    "changed meanwhile", never two ledger rows or a duplicate-row error. Every ledger row
    takes it anyway (it orders the person's ledger chain); taking it here, before reading,
    is what makes the decision safe.
    """
    locks.subjects([subject.id])


def held_for_change(subject: Subject) -> dict[tuple[int, str], Consent]:
    """``current``, read under the subject's lock (see ``lock``)."""
    lock(subject)
    return current(subject)


def _ask(subject, topics, channel, text, language, policy_version, origin, now, at=None):
    """The request awaiting the person's confirmation of ``topics``, with a "requested" ledger
    row per topic saying what was asked under which text and policy; None without topics.
    ``at``: when the person asked, if captured elsewhere before ``now`` (the ledger's time)."""
    if not topics:
        return None
    pending = SignupRequest(
        subject_id=subject.id,
        brand_id=topics[0].brand_id,
        topic_ids=[t.id for t in topics],
        channel=channel,
        source=origin.source,
        text_version_id=text.id,
        language=language,
        policy_version=policy_version,
        requested_at=now,
        personal=json.dumps({"ip": origin.ip, "user_agent": origin.user_agent}),
    )
    db.session.add(pending)
    for topic in topics:
        _record(
            subject,
            topic,
            channel,
            REQUESTED,
            origin,
            text_version_id=text.id,
            language=language,
            policy_version=policy_version,
            occurred_at=at or now,
        )
    db.session.flush()
    return pending


def _row(subject: Subject, topic: Topic, channel: str, held: dict) -> Consent:
    """The subject's consent row for (topic, channel), added when they have none yet."""
    row = held.get((topic.id, channel))
    if row is None:
        row = Consent(
            subject_id=subject.id, brand_id=topic.brand_id, topic_id=topic.id, channel=channel
        )
        db.session.add(row)
    return row


def request(
    subject: Subject,
    topics: list[Topic],
    channel: str,
    text: ConsentText,
    language: str,
    policy_version: str,
    origin: Origin,
    asked_at=None,
    captured_at=None,
) -> SignupRequest | None:
    """Ask for consent to ``topics`` pending the person's confirmation (double opt-in).

    Topics already granted are left alone; returns None when nothing is left to confirm.
    ``asked_at``: when the person asked, if earlier than now (a request the worker decides).
    ``captured_at``: when they asked somewhere else (a till, a call centre): the pending
    consents' ``since`` and the ledger's time, while the request itself, whose age the
    lifecycle rules count, is made now.
    """
    held = current(subject)
    wanted = [t for t in topics if getattr(held.get((t.id, channel)), "state", None) != GRANTED]
    now = asked_at or clock.now()
    at = captured_at or now
    for topic in wanted:
        row = _row(subject, topic, channel, held)
        row.state, row.since, row.source, row.updated_at = PENDING, at, origin.source, now
        row.text_version_id, row.policy_version = text.id, policy_version
    return _ask(subject, wanted, channel, text, language, policy_version, origin, now, at)


def ask_again(
    subject: Subject,
    topics: list[Topic],
    channel: str,
    text: ConsentText,
    language: str,
    policy_version: str,
    origin: Origin,
) -> SignupRequest | None:
    """Ask a subject to confirm consents they hold again, under a new policy version.

    Their consents stay granted as they are until they confirm (``confirm`` then records the
    new policy version); the asking itself is a "requested" ledger row per topic. Returns None
    when they hold none of ``topics`` any more.
    """
    held = current(subject)
    wanted = [t for t in topics if getattr(held.get((t.id, channel)), "state", None) == GRANTED]
    return _ask(subject, wanted, channel, text, language, policy_version, origin, clock.now())


def confirm(pending: SignupRequest, origin: Origin) -> list[Consent]:
    """Turn a request's pending consents into granted ones, keeping both times as proof.

    A consent withdrawn between request and confirmation stays withdrawn: the later choice wins.
    """
    subject = pending.subject
    now = clock.now()
    held = current(subject)
    topics = db.session.scalars(select(Topic).where(Topic.id.in_(pending.topic_ids))).all()
    granted = []
    for topic in topics:
        row = held.get((topic.id, pending.channel))
        if row is None or row.state == WITHDRAWN:
            continue
        row.state, row.since, row.source, row.updated_at = GRANTED, now, pending.source, now
        row.text_version_id, row.policy_version = pending.text_version_id, pending.policy_version
        _record(
            subject,
            topic,
            pending.channel,
            CONFIRMED,
            origin,
            text_version_id=pending.text_version_id,
            language=pending.language,
            policy_version=pending.policy_version,
            requested_at=pending.requested_at,
            occurred_at=now,
        )
        events.consent_changed(row, topic, pending.source)
        granted.append(row)
    pending.confirmed_at = now
    return granted


def withdraw(subject: Subject, topic: Topic, channel: str, origin: Origin, at=None) -> bool:
    """Withdraw one consent at once (GDPR Art. 7(3)); False when there was none to withdraw.

    ``at``: when the person withdrew, if captured elsewhere earlier (the consent's ``since``
    and the ledger row's time); now otherwise.
    """
    row = held_for_change(subject).get((topic.id, channel))
    if row is None or row.state == WITHDRAWN:
        return False
    now = clock.now()
    at = at or now
    row.state, row.since, row.source, row.updated_at = WITHDRAWN, at, origin.source, now
    _record(subject, topic, channel, WITHDRAWAL, origin, occurred_at=at)
    events.consent_changed(row, topic, origin.source)
    return True


def record_suppression_lifted(subject: Subject, origin: Origin) -> None:
    """An erased address signed up again and confirmed: proof of why it may be contacted."""
    entry = ledger.append(
        subject.group_id,
        subject_id=subject.id,
        brand_id=None,
        topic_id=None,
        channel=None,
        action=SUPPRESSION_LIFTED,
        source=origin.source,
        occurred_at=clock.now(),
        actor=origin.actor,
        evidence=origin.evidence,
        ip=origin.ip,
        user_agent=origin.user_agent,
    )
    _active([{"subject_id": subject.id, "occurred_at": entry.occurred_at, "actor": origin.actor}])


def grant(
    subject: Subject,
    topic: Topic,
    channel: str,
    text: ConsentText,
    language: str,
    origin: Origin,
    at=None,
) -> bool:
    """Grant one consent directly (a confirmed subject acting for themselves); False if held.

    ``at``: when the person granted it, if captured elsewhere earlier; now otherwise.
    """
    row = _row(subject, topic, channel, held_for_change(subject))
    if row.state == GRANTED:
        return False
    now = clock.now()
    at = at or now
    policy = topic.brand.policy_version
    row.state, row.since, row.source, row.updated_at = GRANTED, at, origin.source, now
    row.text_version_id, row.policy_version = text.id, policy
    _record(
        subject,
        topic,
        channel,
        GRANT,
        origin,
        text_version_id=text.id,
        language=language,
        policy_version=policy,
        occurred_at=at,
    )
    events.consent_changed(row, topic, origin.source)
    return True


def is_stale(subject: Subject, topic: Topic, channel: str, at) -> bool:
    """True when a change made at ``at`` is older than the latest stored change of this consent
    (its ``since``, or a later repeat of the same choice: ``repeat``): changes captured
    elsewhere count in the order people made them, not in the order they arrive. Read under
    the subject's lock (``lock``)."""
    row = current(subject).get((topic.id, channel))
    return row is not None and row.since is not None and at < _latest(row)


def _latest(row: Consent):
    """When the person last stated the choice this consent holds: since when it holds, or the
    latest repeat of it (a REAFFIRMED or WITHDRAWN_AGAIN ledger row), whichever is later."""
    repeated = db.session.scalar(
        select(func.max(LedgerEntry.occurred_at)).where(
            LedgerEntry.subject_id == row.subject_id,
            LedgerEntry.topic_id == row.topic_id,
            LedgerEntry.channel == row.channel,
            LedgerEntry.action.in_(REPEATS),
        )
    )
    return max(row.since, repeated) if repeated is not None else row.since


def repeat(
    subject: Subject,
    topic: Topic,
    channel: str,
    state: str,
    origin: Origin,
    at,
    *,
    text: ConsentText | None = None,
    language: str | None = None,
) -> LedgerEntry | None:
    """The person made again, at ``at``, the choice the consent already holds (``state``,
    granted or withdrawn), later than anything stored about it: a ledger row (REAFFIRMED,
    WITHDRAWN_AGAIN) keeps proof of when they said so, and a change captured between the two
    then counts as older (``is_stale``). Without it, a withdrawal captured before a repeated
    grant but arriving after it would still withdraw. State, ``since`` and the feed stay as
    they are. None, writing nothing, when the consent does not hold ``state`` or ``at`` is
    not later (the same change sent again). Read under the subject's lock (``lock``)."""
    row = current(subject).get((topic.id, channel))
    if row is None or row.state != state or row.since is None or at <= _latest(row):
        return None
    return _record(
        subject,
        topic,
        channel,
        REAFFIRMED if state == GRANTED else WITHDRAWN_AGAIN,
        origin,
        text_version_id=text.id if text is not None else None,
        language=language,
        policy_version=topic.brand.policy_version if text is not None else None,
        occurred_at=at,
    )


def record_stale(
    subject: Subject,
    topic: Topic,
    channel: str,
    action: str,
    origin: Origin,
    at,
    *,
    text: ConsentText | None = None,
    language: str | None = None,
) -> LedgerEntry:
    """Keep a change that arrived after a later one as history: a ledger row at the time it was
    made, without touching the consent's state or emitting an event (see ``is_stale``)."""
    return _record(
        subject,
        topic,
        channel,
        action,
        origin,
        text_version_id=text.id if text else None,
        language=language,
        policy_version=topic.brand.policy_version if text else None,
        occurred_at=at,
    )


def last_entry(subject: Subject, topic: Topic, channel: str) -> LedgerEntry | None:
    """The ledger row last written about this consent (the receipt of a change just made)."""
    db.session.flush()
    return db.session.scalar(
        select(LedgerEntry)
        .where(
            LedgerEntry.group_id == subject.group_id,
            LedgerEntry.subject_id == subject.id,
            LedgerEntry.topic_id == topic.id,
            LedgerEntry.channel == channel,
        )
        .order_by(LedgerEntry.id.desc())
        .limit(1)
    )


def withdraw_all(subject: Subject, origin: Origin, brand_id: int | None = None) -> int:
    """Withdraw every consent the subject holds or has pending, of one brand or of all.

    GDPR Art. 7(3): leaving must be as easy as joining, so this is one call and one ledger row
    per consent that changes; consents already withdrawn write nothing. The subject stays
    known, so the choice keeps being honoured (this is not erasure). Returns how many changed.
    """
    rows = [
        row
        for row in held_for_change(subject).values()
        if row.state != WITHDRAWN and (brand_id is None or row.brand_id == brand_id)
    ]
    return _end(subject, rows, WITHDRAWAL, origin)


def _end(subject: Subject, rows: list[Consent], action: str, origin: Origin) -> int:
    """Set ``rows`` withdrawn, each with an ``action`` ledger row and a feed event, in a
    stable order (brand, topic, channel); returns how many."""
    topics = {t.id: t for t in _topics_of(rows)}
    now = clock.now()
    for row in sorted(rows, key=lambda r: (r.brand_id, r.topic_id, r.channel)):
        row.state, row.since, row.source, row.updated_at = WITHDRAWN, now, origin.source, now
        _record(subject, topics[row.topic_id], row.channel, action, origin, occurred_at=now)
        events.consent_changed(row, topics[row.topic_id], origin.source)
    return len(rows)


def _topics_of(rows: list[Consent]) -> list[Topic]:
    if not rows:
        return []
    ids = {row.topic_id for row in rows}
    return list(db.session.scalars(select(Topic).where(Topic.id.in_(ids))))


@dataclass(frozen=True)
class Imported:
    """One consent given in another tool before it came here, with its original time."""

    subject_id: int
    topic: Topic
    channel: str
    occurred_at: object  # aware datetime
    evidence: dict


def record_imported(group_id: int, items: list[Imported], origin: Origin) -> int:
    """Write granted consents imported from another tool, with their original times.

    Only for (subject, topic, channel) that have no consent row yet: an import never overrides
    what a person chose here. Each consent gets a "granted" ledger row with source "import".
    """
    if not items:
        return 0
    db.session.execute(
        Consent.__table__.insert(),
        [
            {
                "subject_id": item.subject_id,
                "brand_id": item.topic.brand_id,
                "topic_id": item.topic.id,
                "channel": item.channel,
                "state": GRANTED,
                "since": item.occurred_at,
                "source": origin.source,
                "text_version_id": None,
                "policy_version": "",
                "updated_at": clock.now(),
            }
            for item in items
        ],
    )
    entries = [
        {
            "subject_id": item.subject_id,
            "brand_id": item.topic.brand_id,
            "topic_id": item.topic.id,
            "channel": item.channel,
            "action": GRANT,
            "source": origin.source,
            "occurred_at": item.occurred_at,
            "actor": origin.actor,
            "evidence": item.evidence,
        }
        for item in items
    ]
    receipts = ledger.append_many(group_id, entries)
    _active(entries)
    return len(receipts)


def expire(subject: Subject, rule: str, origin: Origin, states=(GRANTED,)) -> int:
    """Let consents lapse under a retention rule: unlike a withdrawal, nobody asked for it.

    The consent ends (state withdrawn, so it is honoured everywhere a withdrawal is) and the
    ledger says why: action "expired", evidence naming the rule. Returns how many lapsed.
    """
    rows = [row for row in current(subject).values() if row.state in states]
    return expire_rows(subject, rows, rule, origin)


def expire_rows(subject: Subject, rows: list[Consent], rule: str, origin: Origin) -> int:
    """``expire`` for the given consent rows of ``subject`` only."""
    evidence = {**(origin.evidence or {}), "rule": rule}
    because = Origin(origin.source, origin.actor, origin.ip, origin.user_agent, evidence)
    return _end(subject, rows, EXPIRED, because)


def reconfirm(subject: Subject, origin: Origin) -> int:
    """The person says they still want what they have (a re-permission answer): one ledger
    row "confirmed" per granted consent, under the text and policy it was given with."""
    rows = [row for row in current(subject).values() if row.state == GRANTED]
    topics = {t.id: t for t in _topics_of(rows)}
    now = clock.now()
    for row in sorted(rows, key=lambda r: (r.brand_id, r.topic_id, r.channel)):
        row.updated_at = now
        _record(
            subject,
            topics[row.topic_id],
            row.channel,
            CONFIRMED,
            origin,
            text_version_id=row.text_version_id,
            language=subject.language,
            policy_version=row.policy_version,
            occurred_at=now,
        )
    return len(rows)


_HELD = ("id", "subject_id", "brand_id", "topic_id", "channel", "state", "since", "source")
_WRITTEN = ("state", "since", "source", "text_version_id", "policy_version", "updated_at")


@dataclass
class Held:
    """A consent row as a ``Batch`` reads and changes it: plain values, not an ORM object (a
    thousand of those cost more to track than the statements that write them)."""

    id: int | None
    subject_id: int
    brand_id: int
    topic_id: int
    channel: str
    state: str | None = None
    since: object = None
    source: str | None = None
    text_version_id: int | None = None
    policy_version: str = ""
    updated_at: object = None
    repeated_at: object = None  # not a column: the latest repeat of the choice (``repeat``)

    @property
    def latest(self):
        """``_latest`` of this row: when the person last stated its choice."""
        if self.repeated_at is None or self.since is None:
            return self.since
        return max(self.since, self.repeated_at)


class Batch:
    """Many captured changes of one site group, written together (``portal.core.consent.bulk``).

    ``held`` reads the consents of the people concerned; ``change`` applies one change to its
    consent at once, so the next change of the same consent in the batch decides on it, and
    notes its ledger row and event; ``write`` then writes the consents, every ledger row in
    one statement, each in its person's chain, and every event likewise. Same rows,
    same chain, same events as the one-at-a-time functions above; the caller holds every
    person's lock first (``locks.subjects``).
    """

    def __init__(self, group_id: int):
        self.group_id = group_id
        self.consents: dict[tuple[int, int, str], Held] = {}
        self.changed: dict[int, Held] = {}  # by id(): each row once
        self.entries: list[dict] = []
        self.events: list[tuple[int, int, dict]] = []
        self.asked: list[SignupRequest] = []

    def held(self, subject_ids: list[int]) -> dict[tuple[int, int, str], Held]:
        """The consents of ``subject_ids`` by (subject id, topic id, channel), read once."""
        if subject_ids:
            columns = [getattr(Consent, name) for name in (*_HELD, "policy_version")]
            rows = db.session.execute(
                select(*columns).where(many.among(Consent.subject_id, subject_ids))
            )
            for row in rows:
                held = Held(*row[: len(_HELD)], policy_version=row.policy_version)
                self.consents[held.subject_id, held.topic_id, held.channel] = held
            repeats = db.session.execute(
                select(
                    LedgerEntry.subject_id,
                    LedgerEntry.topic_id,
                    LedgerEntry.channel,
                    func.max(LedgerEntry.occurred_at),
                )
                .where(many.among(LedgerEntry.subject_id, subject_ids))
                .where(LedgerEntry.action.in_(REPEATS))
                .group_by(LedgerEntry.subject_id, LedgerEntry.topic_id, LedgerEntry.channel)
            )
            for subject_id, topic_id, channel, at in repeats:
                if (subject_id, topic_id, channel) in self.consents:
                    self.consents[subject_id, topic_id, channel].repeated_at = at
        return self.consents

    def repeat(
        self,
        row: Held,
        topic: Topic,
        origin: Origin,
        at,
        *,
        text: ConsentText | None = None,
        language: str | None = None,
    ) -> int | None:
        """``repeat`` for a row of the batch that holds the choice made again at ``at``: the
        index of its ledger row, or None (writing nothing) when ``at`` is not later."""
        if row.since is None or at <= row.latest:
            return None
        action = REAFFIRMED if row.state == GRANTED else WITHDRAWN_AGAIN
        row.repeated_at = at
        return self.change(
            row.subject_id, topic, row.channel, action, origin, at, text=text, language=language
        )

    def row(self, subject_id: int, topic: Topic, channel: str) -> Held:
        """The consent (subject, topic, channel), added if the person has none yet."""
        key = (subject_id, topic.id, channel)
        if key not in self.consents:
            self.consents[key] = Held(None, subject_id, topic.brand_id, topic.id, channel)
        return self.consents[key]

    def change(
        self,
        subject_id: int,
        topic: Topic,
        channel: str,
        action: str,
        origin: Origin,
        at,
        *,
        row: Held | None = None,
        state: str | None = None,
        text: ConsentText | None = None,
        language: str | None = None,
    ) -> int:
        """Note one change made at ``at``: its ledger row, and with ``state`` the consent
        ``row``'s new state (its event; for ``PENDING``, the request awaiting confirmation).
        Without ``state`` the consent stays as it is (a stale change kept as history).
        Returns the index of the ledger row, whose hash ``write`` answers."""
        policy = topic.brand.policy_version if text is not None else None
        if state is not None:
            now = clock.now()
            row.state, row.since, row.source, row.updated_at = state, at, origin.source, now
            if text is not None:
                row.text_version_id, row.policy_version = text.id, policy
            self.changed[id(row)] = row
            if state == PENDING:
                self.asked.append(
                    SignupRequest(
                        subject_id=subject_id,
                        brand_id=topic.brand_id,
                        topic_ids=[topic.id],
                        channel=channel,
                        source=origin.source,
                        text_version_id=text.id,
                        language=language,
                        policy_version=policy,
                        requested_at=now,
                        ip=origin.ip,
                        user_agent=origin.user_agent,
                    )
                )
            else:
                payload = events.consent_payload(row, topic, origin.source)
                self.events.append((topic.brand_id, subject_id, payload))
        self.entries.append(
            {
                "subject_id": subject_id,
                "brand_id": topic.brand_id,
                "topic_id": topic.id,
                "channel": channel,
                "action": action,
                "source": origin.source,
                "text_version_id": text.id if text is not None else None,
                "language": language,
                "policy_version": policy,
                "occurred_at": at,
                "actor": origin.actor,
                "evidence": origin.evidence,
                "ip": origin.ip,
                "user_agent": origin.user_agent,
            }
        )
        return len(self.entries) - 1

    def write(self) -> list[str]:
        """Write what ``change`` noted; returns the ledger rows' hashes (receipts) in order.
        The requests awaiting confirmation are in ``asked``, for their mails."""
        new = [row for row in self.changed.values() if row.id is None]
        old = [row for row in self.changed.values() if row.id is not None]
        if new:
            fields = [
                name for name in Held.__dataclass_fields__ if name not in ("id", "repeated_at")
            ]
            db.session.execute(
                Consent.__table__.insert(), [{f: getattr(row, f) for f in fields} for row in new]
            )
        if old:
            table = Consent.__table__
            db.session.execute(
                update(table)
                .where(table.c.id == bindparam("row_id"))
                .values({name: bindparam(name) for name in _WRITTEN}),
                [{"row_id": row.id, **{f: getattr(row, f) for f in _WRITTEN}} for row in old],
            )
        db.session.add_all(self.asked)
        db.session.flush()
        receipts = ledger.append_many(self.group_id, self.entries)
        _active(self.entries)
        events.consents_changed(self.group_id, self.events)
        return receipts
