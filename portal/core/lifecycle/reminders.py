"""The two reminders: "is this still right?" and "do you still want to hear from us?".

Each writes a LifecycleNotice (unique per subject, rule and period) and queues its mail in
the caller's transaction: a second run that races this one fails on the unique key and
sends nothing.
"""

from flask_babel import force_locale
from flask_babel import gettext as _

from portal import tokens
from portal.core.consent import changes as consent
from portal.core.consent.models import GRANTED
from portal.core.lifecycle.models import FRESHNESS, REPERMISSION, LifecycleNotice
from portal.core.lifecycle.policy import months_ago
from portal.core.mail import mails
from portal.core.people import profile
from portal.core.people.models.subject import Subject
from portal.extensions import db
from portal.links import external_url


def _notice(subject: Subject, rule: str, period: str, fields=()) -> LifecycleNotice:
    notice = LifecycleNotice(subject_id=subject.id, rule=rule, period=period, fields=list(fields))
    db.session.add(notice)
    db.session.flush()  # the unique key is checked here, before any mail is queued
    return notice


def _link(endpoint: str, purpose: str, notice: LifecycleNotice, subject: Subject) -> str:
    token = tokens.issue(purpose, {"g": subject.group_id, "n": notice.id})
    return external_url(endpoint, group=subject.group.slug, token=token)


def due_fields(subject: Subject, ctx) -> list[str]:
    """The subject's profile fields whose last confirmation is older than their interval."""
    intervals = ctx.policy.reconfirm_months or {}
    held = profile.fields_of(subject)
    return [
        name
        for name, months in sorted(intervals.items())
        if name in held and held[name].confirmed_at < months_ago(ctx.now, months)
    ]


def period_of(ctx) -> str:
    """The calendar window a freshness mail belongs to: windows as long as the shortest
    interval, counted from year 0, so every machine names the same period the same way."""
    length = min(ctx.policy.reconfirm_months.values())
    return f"{length}m-{(ctx.now.year * 12 + ctx.now.month - 1) // length}"


def shown(name: str, value: str) -> tuple[str, str]:
    """A field as a mail lists it: its name in the person's language and its value."""
    if name == profile.POSTAL:
        parts = profile.postal_parts(value)
        return _("Postal address"), ", ".join(
            [*parts["lines"], f"{parts['postcode']} {parts['city']}", parts["country"]]
        )
    return _("Mobile number"), value


def freshness(subject: Subject, ctx) -> bool:
    names = due_fields(subject, ctx)
    if not names:
        return False
    notice = _notice(subject, FRESHNESS, period_of(ctx), names)
    held = profile.fields_of(subject)
    with force_locale(subject.language):
        items = [shown(name, held[name].value) for name in names]
    mails.freshness(
        subject,
        items,
        _link("lifecycle.still_right", "still-right", notice, subject),
        _link("lifecycle.update", "still-right", notice, subject),
    )
    return True


def repermission(subject: Subject, period: str, ctx) -> bool:
    notice = _notice(subject, REPERMISSION, period)
    rows = [row for row in consent.current(subject).values() if row.state == GRANTED]
    rows.sort(key=lambda row: (row.brand.position, row.topic.position, row.channel))
    with force_locale(subject.language):
        channels = {"email": _("Email"), "sms": _("SMS"), "post": _("Post")}
        topics = [
            f"{row.brand.name}: {row.topic.name(subject.language)} ({channels[row.channel]})"
            for row in rows
        ]
    mails.repermission(
        subject,
        topics,
        _link("lifecycle.keep", "keep", notice, subject),
        ctx.policy.repermission_answer_days,
    )
    return True
