"""Withdrawal that erases (GDPR Art. 17): one transaction, all or nothing.

What goes: first the person's own data key (``kernel.subject_keys``), so that no copy of
their rows left anywhere (dead row versions, WAL, backups of the data) can be read again; then
the subject and every row of every table that refers to them (profile fields, consents,
pending requests and links, queued mail), so a feature adding such a table is covered without
touching this module. What stays: the ledger rows as anonymous proof (the
subject replaced by the erasure id), the keyed hash of the address on the suppression list,
and a disposal record with counts. A last mail confirms the erasure and is discarded once sent.
"""

import uuid

from sqlalchemy import delete, select, update

from portal import tokens
from portal.core.consent import changes as consent
from portal.core.consent import ledger
from portal.core.consent.changes import Origin
from portal.core.consent.models import LedgerEntry
from portal.core.console.models import AccessEntry
from portal.core.integrations import erasure_requests, events, recipients
from portal.core.integrations.models.event import SUBJECT_ERASED, Event
from portal.core.kernel import clock, links, subject_keys
from portal.core.kernel.transaction import commit_session
from portal.core.mail import address_requests, mails
from portal.core.people.models.erasure import ErasureRecord, Suppression
from portal.core.people.models.subject import Subject
from portal.extensions import db

# Tables that refer to a subject but outlive them: the ledger, anonymised as proof, and the
# API's event feed, detached, because integrators must still learn of the withdrawals and of
# the erasure itself (its events carry the former subject id, never personal data).
ANONYMISED = {LedgerEntry.__tablename__}
DETACHED = {Event.__tablename__}  # see the update in erase_in_transaction
# The console's access log names the former subject id (no foreign key) and outlives the person:
# it proves who looked at or erased their data and why (Art. 5(2), accountability).
KEPT = {AccessEntry.__tablename__}


def _personal_tables():
    """Every table with a subject_id column, children before parents."""
    return [
        table
        for table in reversed(db.metadata.sorted_tables)
        if "subject_id" in table.columns and table.name not in ANONYMISED | DETACHED | KEPT
    ]


def is_suppressed(group_id: int, email_hash: str) -> bool:
    return (
        db.session.scalar(
            select(Suppression.id).where(
                Suppression.group_id == group_id, Suppression.email_hash == email_hash
            )
        )
        is not None
    )


def erase_in_transaction(
    subject: Subject,
    requested_by: str,
    origin: Origin,
    reason: str = "",
    *,
    suppress: bool = True,
    notify: bool = True,
) -> ErasureRecord:
    """Erase ``subject`` inside the caller's transaction (the API commits it with its
    idempotency key); ``requested_by`` says who asked (subject, admin:<id>, api:<client>, or a
    retention rule). Returns the disposal record.

    ``reason``: the portal's own words (a rule, "support: asked by phone"); free text about
    the person belongs in the origin's evidence, which goes under their key and with it.

    ``suppress=False, notify=False`` is for sign-ups never confirmed: the address was never
    proven to be the person's, so mailing it would write to a stranger, and keeping its hash
    on the suppression list would keep data about someone who never agreed to anything.
    """
    erasure_id = str(uuid.uuid4())
    group_id, subject_id, email_hash = subject.group_id, subject.id, subject.email_hash
    # The key goes first: the key store commits it just before the data (see subject_keys).
    subject_keys.delete_key(db.session, subject.key_ref)
    # Only clients of a brand the person was with hear of the erasure (a client limited to
    # other brands must not learn that someone it cannot see existed).
    audience = events.brands_of(subject_id)
    # The recipients holding copies are asked to erase them too (Art. 17(2), 19).
    readers = recipients.reading(group_id, audience)
    # Withdrawal first, so the ledger (and the feed) prove consent ended before the data went.
    withdrawn = consent.withdraw_all(subject, origin)
    if notify:
        ticket = tokens.issue("erasure-status", {"g": group_id, "e": erasure_id})
        mails.erasure_confirmed(  # addressed to no subject row: it survives the purge
            subject,
            systems=[client.name for client in readers],
            status=links.link(links.ERASURE_STATUS, group=subject.group.slug, ticket=ticket),
        )
    db.session.flush()
    counts = {"consents_withdrawn": withdrawn}
    for table in _personal_tables():
        removed = db.session.execute(delete(table).where(table.c.subject_id == subject_id))
        if removed.rowcount:
            counts[table.name] = removed.rowcount
    # Requests naming the address that the worker has not decided yet (a magic link asked for).
    address_requests.forget(group_id, email_hash)
    counts["ledger_entries_anonymised"] = ledger.anonymise(subject_id, erasure_id)
    # Events stay, so no reader of the feed meets a gap, but lose every personal part.
    db.session.execute(
        update(Event).where(Event.subject_id == subject_id).values(subject_id=None, personal=None)
    )
    db.session.expunge(subject)
    db.session.execute(delete(Subject).where(Subject.id == subject_id))
    if suppress and not is_suppressed(group_id, email_hash):
        db.session.add(
            Suppression(
                group_id=group_id,
                email_hash=email_hash,
                erasure_id=erasure_id,
                created_at=clock.now(),
            )
        )
    record = ErasureRecord(
        id=erasure_id,
        group_id=group_id,
        subject_ref=subject_id,
        requested_by=requested_by,
        reason=reason,
        erased_at=clock.now(),
        counts=counts,
    )
    db.session.add(record)
    db.session.flush()
    if readers:
        counts["recipients_asked"] = erasure_requests.ask(erasure_id, group_id, subject_id, readers)
        record.counts = dict(counts)
    events.emit(
        group_id,
        SUBJECT_ERASED,
        {"subject_id": subject_id, "erasure_id": erasure_id},
        audience=audience,
    )
    return record


def erase(
    subject: Subject, requested_by: str, origin: Origin, reason: str = "", **options
) -> ErasureRecord:
    """``erase_in_transaction`` as one transaction of its own: nothing changes if anything fails.

    ``options``: ``suppress`` and ``notify``, as there.
    """
    with commit_session():
        return erase_in_transaction(subject, requested_by, origin, reason, **options)


def lift_suppression(subject: Subject, origin: Origin) -> bool:
    """Called when a suppressed address confirms a new sign-up by double opt-in."""
    removed = db.session.execute(
        delete(Suppression).where(
            Suppression.group_id == subject.group_id, Suppression.email_hash == subject.email_hash
        )
    ).rowcount
    if removed:
        consent.record_suppression_lifted(subject, origin)
    return bool(removed)
