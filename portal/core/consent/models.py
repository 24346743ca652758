"""Consent: the current state per subject, topic and channel, and the append-only ledger."""

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.kernel import clock, subject_keys
from portal.core.kernel.crypto import Encrypted
from portal.core.kernel.models.base import UTCDateTime
from portal.core.people import keys
from portal.extensions import db

# Consent states
PENDING, GRANTED, WITHDRAWN = "pending", "granted", "withdrawn"

# Ledger actions
REQUESTED, CONFIRMED, GRANT, WITHDRAWAL = "requested", "confirmed", "granted", "withdrawn"
SUPPRESSION_LIFTED, EXPIRED = "suppression_lifted", "expired"
# The person made again, captured later elsewhere, the choice the consent already holds: no
# change of state, but proof of when they last said so, which orders later arrivals.
REAFFIRMED, WITHDRAWN_AGAIN = "reaffirmed", "withdrawn_again"
REPEATS = (REAFFIRMED, WITHDRAWN_AGAIN)

# Where a consent change came from
SOURCES = (
    "signup_form",
    "double_opt_in",
    "preference_centre",
    "api",
    "import",
    "admin",
    "retention",
)


class Consent(db.Model):
    """What a subject has agreed to now; the ledger says how it got there."""

    __tablename__ = "consent"
    # One row per subject, topic and channel. The index carries the state too, so an audience
    # check reads its answer from the index alone (PostgreSQL; SQLite ignores INCLUDE), and it
    # serves lookups by subject_id as well.
    __table_args__ = (
        Index(
            "uq_consent_subject_id_topic_id_channel",
            "subject_id",
            "topic_id",
            "channel",
            unique=True,
            postgresql_include=["state"],
        ),
        # A job walks a brand's or a topic's audience in subject order, a batch at a time
        # (asking again, topic mails): each batch reads on from where the last stopped in the
        # index, instead of sorting the whole audience again.
        Index("ix_consent_brand_audience", "brand_id", "channel", "state", "subject_id"),
        Index("ix_consent_topic_audience", "topic_id", "channel", "state", "subject_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id"), index=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(10))
    since = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(20))
    text_version_id: Mapped[int | None] = mapped_column(ForeignKey("consent_text.id"))
    policy_version: Mapped[str] = mapped_column(String(40), default="")
    updated_at = mapped_column(UTCDateTime, default=clock.now)

    topic = relationship("Topic")
    brand = relationship("Brand")


class LedgerEntry(db.Model):
    """One consent event, chained by hash to the previous entry of the same person.

    Each person's entries form a chain of their own (``chain``, a random id given with their
    first entry, and ``chain_seq``, the position in it), written under that person's lock, so
    changes to different people of one site group never wait for each other. The sealer
    (``portal.core.consent.anchors``) then puts every entry under a Merkle anchor
    (``anchor_id``), and the anchors of a group form a chain of their own.

    Entries written before per-person chains keep ``chain`` NULL: they stay chained to the
    previous entry of their site group by ``seq``, frozen, with the old chain's head recorded in
    the group's first (legacy) anchor.

    Personal parts (IP, user agent, the free text of the evidence, and the salt) are kept in
    ``personal``, encrypted under the person's own key, and covered by ``personal_digest``
    rather than hashed into the chain directly: erasure deletes the key and drops them, and the
    chain still verifies. ``ip``, ``user_agent`` and ``personal_salt`` are the clear columns of
    entries written before per-person keys, emptied by `flask keys per-person`.
    """

    __tablename__ = "ledger_entry"
    # (subject, time): the lifecycle rules ask of each person "anything since the cut-off?";
    # it also serves every look-up by subject alone (a person's chain head among them).
    __table_args__ = (
        UniqueConstraint("group_id", "seq"),
        UniqueConstraint("chain", "chain_seq"),
        Index("ix_ledger_entry_subject_id_occurred_at", "subject_id", "occurred_at"),
        # A day's opt-outs of a brand (dashboard, daily roll-ups): withdrawals only.
        Index(
            "ix_ledger_entry_withdrawals",
            "brand_id",
            "occurred_at",
            postgresql_where=text("action = 'withdrawn'"),
            sqlite_where=text("action = 'withdrawn'"),
        ),
        # What the sealer has left to seal: shrinks back to nothing after every run.
        Index(
            "ix_ledger_entry_unsealed",
            "group_id",
            "id",
            postgresql_where=text("anchor_id IS NULL"),
            sqlite_where=text("anchor_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"))
    # Position in the site group's chain: entries written before per-person chains only.
    seq: Mapped[int | None] = mapped_column(nullable=True)
    # The person's chain (random, never derived from the person: it outlives their erasure).
    chain: Mapped[str | None] = mapped_column(String(32), nullable=True)
    chain_seq: Mapped[int | None] = mapped_column(nullable=True)
    anchor_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_anchor.id"), index=True)
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id"))
    erasure_id: Mapped[str | None] = mapped_column(String(36), index=True)
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brand.id"))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topic.id"))
    channel: Mapped[str | None] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))
    text_version_id: Mapped[int | None] = mapped_column(ForeignKey("consent_text.id"))
    language: Mapped[str | None] = mapped_column(String(8))
    policy_version: Mapped[str | None] = mapped_column(String(40))
    occurred_at = mapped_column(UTCDateTime)
    requested_at = mapped_column(UTCDateTime, nullable=True)
    actor: Mapped[str] = mapped_column(String(80))
    evidence: Mapped[dict | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(Text)
    personal_salt: Mapped[str | None] = mapped_column(String(32))
    # JSON {"salt", "ip", "user_agent", "evidence"} under the person's own key.
    personal: Mapped[str | None] = mapped_column(Encrypted, nullable=True)
    personal_digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    text_version = relationship("ConsentText")
    topic = relationship("Topic")
    brand = relationship("Brand")


class LedgerAnchor(db.Model):
    """A seal over a site group's ledger: the Merkle root of the entries sealed under it, chained
    to the group's previous anchor by hash, and signed when a signing key is configured.

    ``kind`` "merkle": ``root`` is the Merkle tree head (RFC 6962) of the hashes of the
    entries whose ``anchor_id`` is this anchor, in id order, ``count`` of them. ``kind``
    "legacy": written once by the upgrade to per-person chains, ``root`` is the head of the
    group's old single chain and ``count`` its length. ``hash`` is the SHA-256 of
    ``statement`` (``portal.core.consent.merkle.anchor_statement``), which is what is signed.
    """

    __tablename__ = "ledger_anchor"
    __table_args__ = (UniqueConstraint("group_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"))
    seq: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(10))
    count: Mapped[int] = mapped_column()
    root: Mapped[str] = mapped_column(String(64))
    first_entry: Mapped[int | None] = mapped_column(nullable=True)
    last_entry: Mapped[int | None] = mapped_column(nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    sealed_at = mapped_column(UTCDateTime, nullable=False)
    hash: Mapped[str] = mapped_column(String(64))
    # Ed25519 over the statement, and the public key that checks it (hex); None unsigned.
    signature: Mapped[str | None] = mapped_column(String(128), nullable=True)
    public_key: Mapped[str | None] = mapped_column(String(64), nullable=True)


class SignupRequest(db.Model):
    """A request for consents awaiting the person's confirmation (double opt-in).

    The confirmation link's token names this row, so a link confirms exactly the topics asked
    for in that request, and only once.
    """

    __tablename__ = "signup_request"
    # The dashboard counts today's sign-ups and confirmations, and the roll-ups a closed
    # day's, by these ranges.
    __table_args__ = (
        Index("ix_signup_request_brand_requested", "brand_id", "requested_at"),
        Index("ix_signup_request_brand_confirmed", "brand_id", "confirmed_at"),
        # The unconfirmed sign-ups rule: requests still waiting, by age (a small set: the
        # rule deletes them once due).
        Index(
            "ix_signup_request_unconfirmed",
            "requested_at",
            postgresql_where=text("confirmed_at IS NULL"),
            sqlite_where=text("confirmed_at IS NULL"),
        ),
        # The dashboard's pending sign-ups older than 48 hours, a brand's waiting requests
        # by age: a range of the same small set.
        Index(
            "ix_signup_request_brand_unconfirmed",
            "brand_id",
            "requested_at",
            postgresql_where=text("confirmed_at IS NULL"),
            sqlite_where=text("confirmed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id"))
    topic_ids: Mapped[list] = mapped_column(JSON)
    channel: Mapped[str] = mapped_column(String(8), default="email")
    source: Mapped[str] = mapped_column(String(20))
    text_version_id: Mapped[int] = mapped_column(ForeignKey("consent_text.id"))
    language: Mapped[str] = mapped_column(String(8))
    policy_version: Mapped[str] = mapped_column(String(40))
    requested_at = mapped_column(UTCDateTime, default=clock.now)
    confirmed_at = mapped_column(UTCDateTime, nullable=True)
    # Clear columns of requests made before per-person keys (see ``personal``).
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(Text)
    # JSON {"ip", "user_agent"} under the person's own key.
    personal: Mapped[str | None] = mapped_column(Encrypted, nullable=True)

    subject = relationship("Subject")
    brand = relationship("Brand")


subject_keys.personal_columns(SignupRequest, ("personal",), keys.by_subject_id)
subject_keys.personal_columns(LedgerEntry, ("personal",), keys.by_subject_id)
