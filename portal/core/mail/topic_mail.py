"""Topic mails: one message per subject consenting to a topic by mail, queued in the outbox.

Each carries what mailbox providers and the law ask of bulk mail: List-Unsubscribe with an
https one-click URL and a mailto (RFC 2369, RFC 8058), List-Id (RFC 2919), a visible
unsubscribe link and the brand's postal address (CAN-SPAM), from the brand's news address.
"""

from urllib.parse import urlsplit

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.core.consent import unsubscribe
from portal.core.consent.models import GRANTED, Consent
from portal.core.console import audit
from portal.core.console.models import AdminAccount
from portal.core.kernel import jobs
from portal.core.kernel.errors import InvalidFields, NotFound, Refused
from portal.core.kernel.models.group import Brand, SiteGroup, Topic
from portal.core.kernel.models.job import Job
from portal.core.kernel.transaction import commit_session
from portal.core.mail import mails
from portal.core.people.models.subject import ERASED, Subject
from portal.extensions import db

TOPIC_MAIL = "mail.topic"


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


def _consenting(topic: Topic):
    return (
        Consent.topic_id == topic.id,
        Consent.channel == unsubscribe.CHANNEL,
        Consent.state == GRANTED,
        Subject.status != ERASED,
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


def audience(topic: Topic) -> int:
    """How many people a topic mail would go to now."""
    return db.session.scalar(
        select(func.count(func.distinct(Consent.subject_id)))
        .join(Subject, Subject.id == Consent.subject_id)
        .where(*_consenting(topic))
    )


def clean(title: str, body: str) -> tuple[str, str]:
    """The subject line (one line, 1 to 200 characters) and the body (not empty, 50,000
    characters at most); InvalidFields naming each that is wrong."""
    title, body = (title or "").strip(), (body or "").strip()
    errors = {}
    if not title or len(title) > 200 or "\n" in title or "\r" in title:
        errors["title"] = _l("Enter a subject of one line (200 characters at most).")
    if not body or len(body) > 50_000:
        errors["body"] = _l("Enter the text of the mail (50,000 characters at most).")
    if errors:
        raise InvalidFields(errors)
    return title, body


def send_topic(
    topic: Topic, title: str, body: str, admin: AdminAccount | None = None, key: str | None = None
) -> Job:
    """Start a job that queues the mail for every subject consenting to the topic by mail,
    batch by batch in the worker; returns it (``job.total``: how many it will mail). Audited;
    ``admin`` None is the command line. Raises Refused when the brand has no postal address
    to print in the mail.

    ``key`` is the confirming form's one-time key: the same form posted again (a double
    click, a reload, two posts at once) returns the job it started instead of mailing twice.
    """
    title, body = clean(title, body)
    if key is not None and not jobs.is_key(key):
        raise InvalidFields({"confirmed": _l("This confirmation is not valid: confirm again.")})
    brand = topic.brand
    check_sendable(brand)
    earlier = jobs.started(brand.group_id, key)
    if earlier is not None:
        return earlier
    try:
        with commit_session():
            job = jobs.start(
                TOPIC_MAIL,
                brand.group_id,
                admin.label if admin is not None else "cli",
                audience(topic),
                brand_id=brand.id,
                admin_id=admin.id if admin is not None else None,
                params={"topic_id": topic.id, "title": title, "body": body},
                key=key,
            )
            audit.record(
                brand.group_id,
                admin,
                "topic.mail",
                f"topic:{topic.id}",
                brand_id=brand.id,
                after={"subject": title, "recipients": job.total, "job": job.id},
            )
    except IntegrityError:
        # The same key committed by a post that ran at the same time: that one is the send.
        earlier = jobs.started(brand.group_id, key)
        if earlier is None:
            raise
        return earlier
    return job


@jobs.handler(TOPIC_MAIL)
def topic_mail_batch(job: Job, params: dict, limit: int) -> jobs.Batch:
    """Queue the mail for the next ``limit`` consenting subjects, by subject id. Someone who
    unsubscribed since the job started is not mailed: consent is read batch by batch."""
    topic = db.session.get(Topic, params["topic_id"])
    people = list(
        db.session.scalars(
            select(Subject)
            .join(Consent, Consent.subject_id == Subject.id)
            .where(*_consenting(topic), Consent.subject_id > int(job.cursor or 0))
            .order_by(Consent.subject_id)  # along ix_consent_topic_audience
            .limit(limit)
        )
    )
    batch = jobs.Batch(
        cursor=str(people[-1].id) if people else job.cursor, finished=len(people) < limit
    )
    for subject in people:
        with jobs.item(batch, str(subject.id)):
            https = unsubscribe.https_url(subject, topic)
            headers = {
                "List-Unsubscribe": f"<{https}>, <{unsubscribe.mailto(subject, topic)}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "List-Id": list_id(topic),
            }
            with force_locale(subject.language):
                mails.topic(subject, topic, params["title"], params["body"], https, headers)
    return batch
