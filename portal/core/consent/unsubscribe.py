"""One-click unsubscribe from a topic mail (RFC 8058, RFC 2369), without signing in.

The token in a topic mail's List-Unsubscribe header names the subject, the brand and the
topic; it is kept short (a list, not a dict) so it also fits a mailto local part (64 octets).
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal import tokens
from portal.core.consent import changes as consent
from portal.core.consent.changes import Origin
from portal.core.consent.models import GRANTED
from portal.core.kernel import links
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.models.group import Brand, Topic
from portal.core.kernel.transaction import commit_session
from portal.core.people.models.subject import ERASED, Subject
from portal.extensions import db

CHANNEL = "email"  # List-Unsubscribe lives in mail, so it leaves the mail channel only


def token(subject: Subject, topic: Topic) -> str:
    return tokens.issue("unsubscribe", [subject.id, topic.brand_id, topic.id])


def https_url(subject: Subject, topic: Topic) -> str:
    return links.link(links.UNSUBSCRIBE, group=subject.group.slug, token=token(subject, topic))


def mailto(subject: Subject, topic: Topic) -> str:
    domain = current_app.config["UNSUBSCRIBE_MAILTO_DOMAIN"] or (
        urlsplit(current_app.config["PORTAL_BASE_URL"]).hostname
    )
    # RFC 6068: the domain in its ASCII (IDNA) form, so the header stays plain ASCII.
    return f"mailto:unsubscribe+{token(subject, topic)}@{domain.encode('idna').decode()}"


@dataclass(frozen=True)
class Target:
    subject: Subject
    topic: Topic

    @property
    def brand(self) -> Brand:
        return self.topic.brand

    def subscribed(self) -> bool:
        row = consent.current(self.subject).get((self.topic.id, CHANNEL))
        return row is not None and row.state == GRANTED


def target(group_id: int, payload) -> Target:
    """Whom and what a genuine token names; InvalidInput when it does not fit this group."""
    refused = InvalidInput(
        "token", _l("This unsubscribe link does not match any subscription here.")
    )
    if not isinstance(payload, list) or len(payload) != 3:
        raise refused
    if not all(isinstance(part, int) for part in payload):
        raise refused
    subject_id, brand_id, topic_id = payload
    subject = db.session.get(Subject, subject_id)
    topic = db.session.get(Topic, topic_id)
    if subject is None or subject.group_id != group_id or subject.status == ERASED:
        raise refused
    if topic is None or topic.brand_id != brand_id or topic.brand.group_id != group_id:
        raise refused
    return Target(subject, topic)


def one_click(group_id: int, payload, origin: Origin) -> Target:
    """Withdraw the topic's mail consent now; repeating it changes nothing more."""
    with commit_session():
        found = target(group_id, payload)
        consent.withdraw(found.subject, found.topic, CHANNEL, origin)
        return found
