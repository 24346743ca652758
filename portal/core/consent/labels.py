"""The words for consent codes, in the reader's language: one place for pages and mails.

Channels, states, ledger actions, sources and actors are stored as codes. Every page and mail
that shows one takes its words from here, so a code never reads two ways, and a code without
words is caught by ``tests/core/test_labels.py`` rather than shown raw to a reader.
Functions, not constants: each call translates in the language of the moment.
"""

from flask_babel import gettext as _

from portal.core.consent.models import (
    CONFIRMED,
    EXPIRED,
    GRANT,
    GRANTED,
    PENDING,
    REAFFIRMED,
    REQUESTED,
    SUPPRESSION_LIFTED,
    WITHDRAWAL,
    WITHDRAWN,
    WITHDRAWN_AGAIN,
)

# Who changed something, by the first part of the actor ("admin:12" is customer service).
SUBJECT, ADMIN = "subject", "admin"


def channels() -> dict[str, str]:
    return {"email": _("Email"), "sms": _("SMS"), "post": _("Post")}


def states() -> dict[str, str]:
    return {
        PENDING: _("Waiting for your confirmation"),
        GRANTED: _("Subscribed"),
        WITHDRAWN: _("Unsubscribed"),
    }


def actions() -> dict[str, str]:
    """What a ledger row did."""
    return {
        REQUESTED: _("Asked for"),
        CONFIRMED: _("Confirmed by you"),
        GRANT: _("Given"),
        WITHDRAWAL: _("Withdrawn"),
        SUPPRESSION_LIFTED: _("Signed up again after an erasure"),
        EXPIRED: _("Lapsed"),
        REAFFIRMED: _("Given again"),
        WITHDRAWN_AGAIN: _("Withdrawn again"),
    }


def sources() -> dict[str, str]:
    """How a consent came to be, completing "Since <date>, <how>"."""
    return {
        "signup_form": _("by email sign-up"),
        "double_opt_in": _("by email sign-up"),
        "preference_centre": _("in your preference centre"),
        "api": _("through a website or app"),
        "import": _("from earlier records"),
        "admin": _("through customer service"),
        "retention": _("by our reminders and retention rules"),
    }


def actors() -> dict[str, str]:
    return {SUBJECT: _("you"), ADMIN: _("customer service")}
