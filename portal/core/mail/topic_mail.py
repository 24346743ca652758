"""Topic mails: one message per subject consenting to a topic by mail, queued in the outbox.

Each carries what mailbox providers and the law ask of bulk mail: List-Unsubscribe with an
https one-click URL and a mailto (RFC 2369, RFC 8058), List-Id (RFC 2919), a visible
unsubscribe link and the brand's postal address (CAN-SPAM), from the brand's news address.
"""

from urllib.parse import urlsplit

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.core.consent import unsubscribe
from portal.core.consent.models import GRANTED, Consent
from portal.core.kernel.errors import NotFound, Refused
from portal.core.kernel.models.group import Brand, SiteGroup, Topic
from portal.core.kernel.transaction import commit_session
from portal.core.mail import mails
from portal.core.people.models.subject import ERASED, Subject
from portal.extensions import db


def list_id(topic: Topic) -> str:
    brand = topic.brand
    domain = urlsplit(current_app.config["PORTAL_BASE_URL"]).hostname
    return f"{brand.name} {topic.name('en')} <{topic.key}.{brand.slug}.{brand.group.slug}.{domain}>"


def find_topic(group_slug: str, brand_slug: str, key: str) -> Topic:
    topic = db.session.scalar(
        select(Topic)
        .join(Brand)
        .join(SiteGroup)
        .where(SiteGroup.slug == group_slug, Brand.slug == brand_slug, Topic.key == key)
    )
    if topic is None:
        raise NotFound(f"no topic {key!r} at brand {brand_slug!r} of group {group_slug!r}")
    return topic


def recipients(topic: Topic) -> list[Subject]:
    """Every subject holding a granted mail consent to the topic now."""
    return list(
        db.session.scalars(
            select(Subject)
            .join(Consent, Consent.subject_id == Subject.id)
            .where(
                Consent.topic_id == topic.id,
                Consent.channel == unsubscribe.CHANNEL,
                Consent.state == GRANTED,
                Subject.status != ERASED,
            )
            .order_by(Subject.id)
        )
    )


def check_sendable(brand: Brand) -> None:
    """Refuse marketing mail from a brand with no postal address (its own or its group's):
    CAN-SPAM (15 U.S.C. 7704(a)(5)) and the EU's e-commerce directive (Art. 5 and 6) ask
    every commercial message to name the sender's physical address."""
    if not brand.postal_address_for_mail:
        raise Refused(
            "no_postal_address",
            _l(
                "%(brand)s has no postal address, and neither has its group: marketing mail "
                "must carry one. Enter it in the group settings or the brand's settings.",
                brand=brand.name,
            ),
        )


def send_topic(topic: Topic, title: str, body: str) -> int:
    """Queue the mail for every consenting subject in one transaction; returns how many.
    Raises Refused when the brand has no postal address to print in the mail."""
    check_sendable(topic.brand)
    with commit_session():
        people = recipients(topic)
        for subject in people:
            https = unsubscribe.https_url(subject, topic)
            headers = {
                "List-Unsubscribe": f"<{https}>, <{unsubscribe.mailto(subject, topic)}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "List-Id": list_id(topic),
            }
            with force_locale(subject.language):
                mails.topic(subject, topic, title, body, https, headers)
    return len(people)
