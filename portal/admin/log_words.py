"""The audit and access logs in words: each row as a sentence (who did what to which thing,
by name), its changed fields as before → after. The logs store codes and ids (no personal
data); the names are looked up when the page is shown."""

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.core.console.models import AdminAccount
from portal.core.kernel.models.group import Brand, Topic
from portal.extensions import db

# What each action did, completing "<who> …"; %(target)s is the thing's name.
ACTIONS = {
    "admin.accept_invite": _l("accepted the invitation as %(target)s"),
    "admin.change": _l("changed the role or brands of %(target)s"),
    "admin.create": _l("created the owner account %(target)s"),
    "admin.invite": _l("invited %(target)s"),
    "admin.invite_resend": _l("sent the invitation of %(target)s again"),
    "admin.invite_revoke": _l("withdrew the invitation of %(target)s"),
    "admin.login": _l("signed in to the console"),
    "admin.password_change": _l("changed their password"),
    "admin.password_reset": _l("reset the password of %(target)s"),
    "admin.password_reset_asked": _l("asked for a new password for %(target)s"),
    "admin.recovery_code_used": _l("signed in with a recovery code"),
    "admin.recovery_codes": _l("made new recovery codes"),
    "admin.totp_disabled": _l("turned off two-factor sign-in"),
    "admin.totp_enabled": _l("turned on two-factor sign-in"),
    "admin.totp_reset": _l("reset the two-factor sign-in of %(target)s"),
    "api_client.create": _l("created the API client %(target)s"),
    "api_client.revoke": _l("revoked the API client %(target)s"),
    "api_client.terms": _l("recorded the data terms of the API client %(target)s"),
    "brand.archive": _l("archived the brand %(target)s"),
    "brand.create": _l("created the brand %(target)s"),
    "brand.policy_version": _l("raised the privacy policy version of %(target)s"),
    "brand.restore": _l("restored the brand %(target)s"),
    "brand.update": _l("changed the brand %(target)s"),
    "consent.changed": _l("changed a consent of %(target)s"),
    "consent.withdraw": _l("recorded a withdrawal for %(target)s"),
    "consent_text.create": _l("published a new consent text for %(target)s"),
    "group.create": _l("created the site group"),
    "group.update": _l("changed the group settings"),
    "mail.topic": _l("sent a topic mail of %(target)s"),
    "policy.ask_again": _l("asked the subscribers of %(target)s to confirm again"),
    "profile.updated": _l("corrected the details of %(target)s"),
    "subject.erase": _l("erased %(target)s"),
    "subject.erased": _l("erased %(target)s"),
    "topic.create": _l("added the topic %(target)s"),
    "topic.mail": _l("sent a mail on the topic %(target)s"),
    "topic.update": _l("changed the topic %(target)s"),
}

ACCESSES = {
    "lookup": _l("looked up a person"),
    "withdraw": _l("recorded a withdrawal for a person"),
    "erase": _l("erased a person"),
}

# Field names of before/after, in words; a field not named here shows as stored.
FIELDS = {
    "name": _l("name"),
    "slug": _l("slug"),
    "colour": _l("colour"),
    "privacy_policy_url": _l("privacy policy address"),
    "sender_name": _l("sender name"),
    "sender_address": _l("sender address"),
    "reply_to": _l("reply-to address"),
    "postal_address": _l("postal address"),
    "policy_version": _l("privacy policy version"),
    "role": _l("role"),
    "brands": _l("brands"),
    "channels": _l("channels"),
    "languages": _l("languages"),
    "default_language": _l("default language"),
    "logo": _l("logo"),
}


@dataclass
class Line:
    entry: object
    who: str
    what: str
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (field, before, after)


def _shown(value) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "–"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {item}" for key, item in value.items())
    return str(value)


def _names(entries) -> dict[str, str]:
    """ "kind:id" → a name, for the targets and actors of ``entries`` (three queries at most)."""
    wanted: dict[str, set[int]] = {"brand": set(), "topic": set(), "admin": set()}
    for entry in entries:
        for reference in (getattr(entry, "target", ""), getattr(entry, "actor", "")):
            kind, _, number = (reference or "").partition(":")
            if kind in wanted and number.isdigit():
                wanted[kind].add(int(number))
        if entry.admin_id:
            wanted["admin"].add(entry.admin_id)
    names: dict[str, str] = {}
    if wanted["brand"]:
        for id_, name in db.session.execute(
            select(Brand.id, Brand.name).where(Brand.id.in_(wanted["brand"]))
        ):
            names[f"brand:{id_}"] = name
    if wanted["topic"]:
        for id_, key, brand in db.session.execute(
            select(Topic.id, Topic.key, Brand.name).join(Brand).where(Topic.id.in_(wanted["topic"]))
        ):
            names[f"topic:{id_}"] = f"{key} ({brand})"
    if wanted["admin"]:
        for id_, email in db.session.execute(
            select(AdminAccount.id, AdminAccount.email).where(AdminAccount.id.in_(wanted["admin"]))
        ):
            names[f"admin:{id_}"] = email
    return names


def _reference(reference: str, names: dict[str, str]) -> str:
    if reference in names:
        return names[reference]
    kind, _, number = reference.partition(":")
    if kind == "api_client" and number:
        return f"#{number}"
    if kind == "subject":
        return str(_l("a person (#%(number)s)", number=number))
    return reference


def lines(entries, access: bool) -> list[Line]:
    names = _names(entries)
    made = []
    for entry in entries:
        who = names.get(f"admin:{entry.admin_id}") if entry.admin_id else None
        if who is None:
            actor = getattr(entry, "actor", "")
            who = str(_l("the command line")) if actor == "cli" else _reference(actor, names)
        if access:
            made.append(Line(entry, who, str(ACCESSES.get(entry.action, entry.action))))
            continue
        words = ACTIONS.get(entry.action)
        target = _reference(entry.target or "", names)
        what = str(words) % {"target": target} if words else f"{entry.action} {target}".strip()
        before, after = entry.before or {}, entry.after or {}
        changes = [
            (str(FIELDS.get(key, key)), _shown(before.get(key)), _shown(after.get(key)))
            for key in list(dict.fromkeys([*before, *after]))
            if before.get(key) != after.get(key)
        ]
        made.append(Line(entry, who, what, changes))
    return made


def action_choices(access: bool) -> list[tuple[str, str]]:
    """The filter's list of action types: (code, words), in alphabetical order of the words;
    actions that read the same (two codes of one erasure) are offered once."""
    words = ACCESSES if access else ACTIONS
    seen, choices = set(), []
    for code, text in words.items():
        shown = str(text).replace("%(target)s", "…")
        shown = shown[:1].upper() + shown[1:]
        if shown not in seen:
            seen.add(shown)
            choices.append((code, shown))
    return sorted(choices, key=lambda choice: choice[1])
