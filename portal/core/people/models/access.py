"""Magic links: one row per link sent, so that a link opens the centre once only."""

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.kernel import clock
from portal.core.kernel.models.base import UTCDateTime
from portal.extensions import db


class SignInLink(db.Model):
    """A sign-in link sent by mail; the token in the link names this row and ``used_at``
    makes it single use."""

    __tablename__ = "sign_in_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    created_at = mapped_column(UTCDateTime, default=clock.now)
    used_at = mapped_column(UTCDateTime, nullable=True)

    subject = relationship("Subject")
