"""Global Privacy Control: a browser's standing request not to sell or share personal data.

A request carrying ``Sec-GPC: 1`` (recorded by the web layer as ``{"gpc": true}`` in the
Origin's evidence, so it lands on every ledger row the request writes) opts the person out
of every topic marked as sharing with third parties, and such a topic cannot be granted in
the same request. GPC is an opt-out of sharing, never a request for erasure (CCPA
§ 7025, GPC specification section 2).
"""

from sqlalchemy import select

from portal.core.consent import changes as consent
from portal.core.consent.changes import Origin
from portal.core.consent.models import WITHDRAWN
from portal.core.kernel.models.group import Topic
from portal.core.people.models.subject import Subject
from portal.extensions import db


def signalled(origin: Origin) -> bool:
    return bool((origin.evidence or {}).get("gpc"))


def sharing(topics) -> list[Topic]:
    return [topic for topic in topics if topic.shares_with_third_parties]


def opt_out(subject: Subject, origin: Origin) -> int:
    """Withdraw, in the caller's transaction, every consent (granted or pending) the subject
    holds on a sharing topic; returns how many. Nothing happens without a GPC signal."""
    if not signalled(origin):
        return 0
    held = [row for row in consent.current(subject).values() if row.state != WITHDRAWN]
    if not held:
        return 0
    topics = db.session.scalars(
        select(Topic).where(
            Topic.id.in_({row.topic_id for row in held}), Topic.shares_with_third_parties
        )
    ).all()
    by_id = {topic.id: topic for topic in topics}
    withdrawn = 0
    for row in sorted(held, key=lambda r: (r.topic_id, r.channel)):
        if row.topic_id in by_id:
            withdrawn += consent.withdraw(subject, by_id[row.topic_id], row.channel, origin)
    return withdrawn
