"""A person known to one site group, found by the keyed hash of their address."""

from sqlalchemy import ForeignKey, Index, String, event, text
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from portal.core.kernel import clock, subject_keys
from portal.core.kernel.crypto import Encrypted
from portal.core.kernel.models.base import UTCDateTime
from portal.extensions import db

PENDING, ACTIVE, ERASED = "pending", "active", "erased"


class Subject(db.Model):
    __tablename__ = "subject"
    # Ids are never reused (AUTOINCREMENT on SQLite; sequences on PostgreSQL), so a session or
    # token naming an erased subject can never come to name someone else.
    # The unique index carries the id, so finding subjects by address reads the index alone
    # (PostgreSQL; on SQLite every index carries the rowid, which is the id).
    __table_args__ = (
        Index(
            "uq_subject_group_id_email_hash",
            "group_id",
            "email_hash",
            unique=True,
            postgresql_include=["id"],
        ),
        # The lifecycle rules ask "who has done nothing since ...?" by a range of this index:
        # the people who became due, not every person of the group.
        Index("ix_subject_group_id_active_at", "group_id", "active_at"),
        # The same for the rules on sign-ups never confirmed and on former customers: only
        # the people in that state are in these indexes, by the time their clock starts.
        Index(
            "ix_subject_unconfirmed_since",
            "group_id",
            "created_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index(
            "ix_subject_former_since",
            "group_id",
            "relationship_since",
            postgresql_where=text("relationship_status = 'former_customer'"),
            sqlite_where=text("relationship_status = 'former_customer'"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("site_group.id"), index=True)
    email_hash: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(Encrypted)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    language: Mapped[str] = mapped_column(String(8), default="en")
    created_at = mapped_column(UTCDateTime, default=clock.now)
    # The person's latest activity (``lifecycle.activity`` says what counts), moved on by
    # ``subjects.was_active`` as it happens; never later than the activity recorded. None:
    # not known yet (people from before it was kept), filled in by `flask lifecycle run`.
    active_at = mapped_column(UTCDateTime, nullable=True, default=clock.now)
    confirmed_at = mapped_column(UTCDateTime, nullable=True)
    # When the address last proved to reach the person (double opt-in or an address change).
    email_confirmed_at = mapped_column(UTCDateTime, nullable=True)
    # customer, former_customer or prospect, as an integrating system says; None: not said.
    relationship_status: Mapped[str | None] = mapped_column(String(20))
    relationship_since = mapped_column(UTCDateTime, nullable=True)
    # The reference of the person's own data key in the key store (``kernel.subject_keys``):
    # their address and everything about them is encrypted under it. Erasure deletes the key.
    # None only for people made before per-person keys, until `flask keys per-person`.
    key_ref: Mapped[str | None] = mapped_column(String(32), nullable=True)

    group = relationship("SiteGroup")


def _key_for_new(_mapper, _connection, target):
    if target.key_ref is None:
        target.key_ref = subject_keys.new_key(object_session(target))


event.listen(Subject, "before_insert", _key_for_new)
subject_keys.personal_columns(Subject, ("email",), lambda target, _connection: target.key_ref)
