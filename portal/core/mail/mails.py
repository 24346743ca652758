"""The portal's mails: rendered in the subject's language and the brand's colours, then queued.

Each function here composes one kind of message and puts it in the outbox within the caller's
transaction; the worker sends it later.
"""

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from portal import tokens
from portal.core.consent.models import SignupRequest
from portal.core.kernel import links
from portal.core.kernel.models.group import Brand, Topic
from portal.core.mail import outbox
from portal.core.people.models.subject import Subject
from portal.extensions import db


def manage_link(subject: Subject) -> str:
    """The footer link of every mail: opens the preference centre for subscription changes
    (``access.manage_entry`` reads it)."""
    return links.link(links.MANAGE, group=subject.group.slug, token=manage_token(subject))


def manage_token(subject: Subject) -> str:
    return tokens.issue("manage", {"g": subject.group_id, "s": subject.id})


def _queue(
    template: str,
    subject: Subject,
    brand: Brand,
    language: str,
    title: str,
    discard_when_done: bool = False,
    sender: str | None = None,
    headers: dict | None = None,
    to: str | None = None,
    **context,
):
    """Compose ``mail/<template>.txt`` and ``.html`` in ``language`` and queue the mail.

    The template name is also the outbox kind. Give ``title`` lazily (``_l``): it is translated
    here, in the recipient's language, not in that of the request that caused the mail.
    """
    with force_locale(language):
        title = str(title)
        context.update(brand=brand, subject=subject, title=title, kind=template, language=language)
        context.setdefault("manage", manage_link(subject))
        return outbox.queue(
            subject.group_id,
            None if discard_when_done else subject.id,
            template,
            discard_when_done=discard_when_done,
            to=to or subject.email,
            sender=[brand.sender_name, sender or brand.sender_address],
            reply_to=brand.reply_to or None,
            subject=title,
            text=render_template(f"mail/{template}.txt", **context),
            html=render_template(f"mail/{template}.html", **context),
            language=language,
            headers=headers or {},
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
    return links.link(links.CONFIRM_SIGNUP, group=subject.group.slug, token=token)


def confirm_signup(pending: SignupRequest) -> None:
    """Ask a new (or still pending) subject to confirm their sign-up: the double opt-in mail."""
    subject, brand = pending.subject, pending.brand
    _queue(
        "confirm_signup",
        subject,
        brand,
        subject.language,
        _l("Please confirm your subscription to %(brand)s", brand=brand.name),
        topics=_topics(pending),
        link=confirmation_link(pending),
    )


def already_registered(subject: Subject, brand: Brand, pending: SignupRequest | None) -> None:
    """Tell an active subject they are known; new topics still need their confirmation."""
    _queue(
        "already_registered",
        subject,
        brand,
        subject.language,
        _l("You are already registered with %(brand)s", brand=brand.name),
        topics=_topics(pending) if pending else [],
        link=confirmation_link(pending) if pending else None,
        home=links.link(links.SIGNUP_HOME, group=subject.group.slug),
    )


def erasure_confirmed(subject: Subject, systems: list[str] = (), status: str | None = None):
    """The last mail: the data is gone. Sent once, then its outbox row is deleted too.

    ``systems``: the recipients asked to erase their copies; ``status``: the link that shows
    where their answers stand, without an account."""
    brands = subject.group.active_brands() or subject.group.brands
    _queue(
        "erasure_confirmed",
        subject,
        brands[0],
        subject.language,
        _l("Your data has been erased from %(group)s", group=subject.group.name),
        discard_when_done=True,
        manage=None,  # there is nothing left to manage
        group=subject.group,
        systems=list(systems),
        status=status,
    )


def erasure_link(subject: Subject, brand: Brand, link: str, language: str) -> None:
    """The fresh link that alone can confirm "Withdraw and erase my data"."""
    _queue(
        "erasure_link",
        subject,
        brand,
        language,
        _l("Confirm the erasure of your data at %(group)s", group=subject.group.name),
        manage=None,  # this mail is about leaving, not about subscriptions
        link=link,
        minutes=current_app.config["ERASURE_LINK_MAX_AGE"] // 60,
    )


def confirm_new_address(subject: Subject, brand: Brand, address: str, link: str, language: str):
    """To the new address: nothing changes until its owner confirms with this link."""
    _queue(
        "confirm_new_address",
        subject,
        brand,
        language,
        _l("Confirm your new address at %(group)s", group=subject.group.name),
        to=address,
        manage=None,  # the new address may be a typo: its reader gets no way in
        link=link,
        hours=current_app.config["EMAIL_CHANGE_MAX_AGE"] // 3600,
    )


def address_taken(subject: Subject, brand: Brand, address: str, language: str) -> None:
    """To a new address that already belongs to someone else in the group: it cannot be used.

    Only the reader of that mailbox learns it; the page the requester sees is the same.
    """
    _queue(
        "address_taken",
        subject,
        brand,
        language,
        _l(
            "Your address cannot be used for another registration at %(group)s",
            group=subject.group.name,
        ),
        to=address,
        manage=None,
    )


def address_change_notice(subject: Subject, brand: Brand, address: str, language: str) -> None:
    """To the current address: someone with access asked to move to ``address``."""
    _queue(
        "address_change_notice",
        subject,
        brand,
        language,
        _l("A change of your address at %(group)s was asked for", group=subject.group.name),
        new_address=address,
    )


def sign_in(subject: Subject, brand: Brand, link: str, language: str) -> None:
    """The magic link to the preference centre, in the language the person asked in."""
    _queue(
        "sign_in",
        subject,
        brand,
        language,
        _l("Your link to manage your preferences at %(group)s", group=subject.group.name),
        link=link,
        minutes=current_app.config["MAGIC_LINK_MAX_AGE"] // 60,
    )


def topic(subject: Subject, topic: Topic, title: str, body: str, unsubscribe: str, headers: dict):
    """A topic mail, from the brand's news address, with its unsubscribe link in sight."""
    brand = topic.brand
    _queue(
        "topic",
        subject,
        brand,
        subject.language,
        title,
        sender=brand.news_sender_address or brand.sender_address,
        headers=headers,
        topic=topic,
        paragraphs=[part.strip() for part in body.split("\n\n") if part.strip()],
        body=body.strip(),
        unsubscribe=unsubscribe,
    )


def reconsent(pending: SignupRequest) -> None:
    """Ask a subscriber to confirm their consents again under the brand's new privacy policy."""
    subject, brand = pending.subject, pending.brand
    _queue(
        "reconsent",
        subject,
        brand,
        subject.language,
        _l("%(brand)s has updated its privacy policy: please confirm", brand=brand.name),
        topics=_topics(pending),
        link=confirmation_link(pending),
        policy_url=brand.privacy_policy_url,
        policy_version=pending.policy_version,
    )


def _house_of(subject: Subject) -> Brand:
    """The brand a group-wide reminder comes from: the one of the person's latest consent."""
    from portal.core.consent.models import Consent

    latest = db.session.scalar(
        db.select(Consent.brand_id)
        .where(Consent.subject_id == subject.id)
        .order_by(Consent.updated_at.desc(), Consent.id.desc())
        .limit(1)
    )
    brands = subject.group.active_brands() or subject.group.brands
    return next((brand for brand in brands if brand.id == latest), brands[0])


def freshness(subject: Subject, items: list[tuple[str, str]], still_right: str, update: str):
    """ "Is this still right?": what we hold (label, value), one click to confirm it all."""
    _queue(
        "freshness",
        subject,
        _house_of(subject),
        subject.language,
        _l("Is this still right? Your details at %(group)s", group=subject.group.name),
        items=items,
        still_right=still_right,
        update=update,
    )


def repermission(subject: Subject, topics: list[str], keep: str, days: int):
    """Asking again before consents lapse: "keep" in one click, or change them in the centre."""
    _queue(
        "repermission",
        subject,
        _house_of(subject),
        subject.language,
        _l("Do you still want to hear from %(group)s?", group=subject.group.name),
        topics=topics,
        keep=keep,
        days=days,
    )


def to_admin(
    group_id: int, kind: str, address: str, sender, title: str, language: str, **context
) -> None:
    """A mail to a console admin (invitation, password reset, test mail): the templates
    mail/<kind>.txt and .html, rendered in the caller's locale, queued for the worker."""
    context.update(title=title, language=language)
    outbox.queue(
        group_id,
        None,
        kind,
        to=address,
        sender=list(sender),
        subject=title,
        text=render_template(f"mail/{kind}.txt", **context),
        html=render_template(f"mail/{kind}.html", **context),
        language=language,
    )
