"""The portal's mails: rendered in the subject's language and the brand's colours, then queued.

Each function here composes one kind of message and puts it in the outbox within the caller's
transaction; the worker sends it later.
"""

from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from portal import tokens
from portal.core import outbox
from portal.core.models import Brand, SignupRequest, Subject, Topic
from portal.extensions import db
from portal.links import external_url


def _queue(kind: str, subject: Subject, brand: Brand, title: str, template: str, **context):
    context.update(brand=brand, subject=subject, title=title, kind=kind)
    return outbox.queue(
        subject.group_id,
        subject.id,
        kind,
        to=subject.email,
        sender=[brand.sender_name, brand.sender_address],
        reply_to=brand.reply_to or None,
        subject=title,
        text=render_template(f"mail/{template}.txt", **context),
        html=render_template(f"mail/{template}.html", **context),
    )


def _topics(pending: SignupRequest) -> list[Topic]:
    rows = db.session.query(Topic).filter(Topic.id.in_(pending.topic_ids)).all()
    order = {topic_id: index for index, topic_id in enumerate(pending.topic_ids)}
    return sorted(rows, key=lambda topic: order[topic.id])


def confirmation_link(pending: SignupRequest) -> str:
    subject = pending.subject
    token = tokens.issue(
        "confirm-signup", {"g": subject.group_id, "s": subject.id, "r": pending.id}
    )
    return external_url("signup.confirm", group=subject.group.slug, token=token)


def confirm_signup(pending: SignupRequest) -> None:
    """Ask a new (or still pending) subject to confirm their sign-up: the double opt-in mail."""
    subject, brand = pending.subject, pending.brand
    with force_locale(subject.language):
        _queue(
            "confirm_signup",
            subject,
            brand,
            _("Please confirm your subscription to %(brand)s", brand=brand.name),
            "confirm_signup",
            topics=_topics(pending),
            link=confirmation_link(pending),
            language=subject.language,
        )


def already_registered(subject: Subject, brand: Brand, pending: SignupRequest | None) -> None:
    """Tell an active subject they are known; new topics still need their confirmation."""
    with force_locale(subject.language):
        _queue(
            "already_registered",
            subject,
            brand,
            _("You are already registered with %(brand)s", brand=brand.name),
            "already_registered",
            topics=_topics(pending) if pending else [],
            link=confirmation_link(pending) if pending else None,
            home=external_url("signup.home", group=subject.group.slug),
            language=subject.language,
        )


def reconsent(pending: SignupRequest) -> None:
    """Ask a subscriber to confirm their consents again under the brand's new privacy policy."""
    subject, brand = pending.subject, pending.brand
    with force_locale(subject.language):
        _queue(
            "reconsent",
            subject,
            brand,
            _("%(brand)s has updated its privacy policy: please confirm", brand=brand.name),
            "reconsent",
            topics=_topics(pending),
            link=confirmation_link(pending),
            policy_url=brand.privacy_policy_url,
            policy_version=pending.policy_version,
            language=subject.language,
        )
