"""Site groups: made from the command line (``flask groups``), set up by owners in the console.

A group is one company. Its settings hold what every brand of it shares: the languages its
pages offer, the company's postal address (which marketing mail must carry), the privacy
policy, the defaults offered to new brands for sender and reply-to, and a logo.
"""

import re
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.core.console import audit
from portal.core.console.brands import SLUG
from portal.core.console.models import AdminAccount
from portal.core.kernel.errors import InvalidFields, InvalidInput
from portal.core.kernel.models.group import SiteGroup
from portal.core.kernel.transaction import commit_session
from portal.core.people.subjects import normalise_email
from portal.extensions import db

# A DNS name: labels of letters, digits and inner hyphens, with at least one dot.
DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
SETTINGS = (
    "name",
    "languages",
    "default_language",
    "postal_address",
    "privacy_policy_url",
    "sender_domain",
    "reply_to",
)


def find(slug: str) -> SiteGroup | None:
    return db.session.scalar(select(SiteGroup).where(SiteGroup.slug == slug))


def all_groups() -> list[SiteGroup]:
    return list(db.session.scalars(select(SiteGroup).order_by(SiteGroup.slug)))


def _clean_name(name: str, errors: dict) -> str:
    name = (name or "").strip()
    if not name or len(name) > 120:
        errors["name"] = _l("Enter a name of 1 to 120 characters.")
    return name


def _clean_languages(languages, default_language: str, errors: dict) -> tuple[list, str]:
    offered = current_app.config["LANGUAGES"]
    chosen = [code.strip() for code in languages if code and code.strip()]
    unknown = [code for code in chosen if code not in offered]
    if unknown or not chosen:
        errors["languages"] = _l(
            "Choose one or more of the languages this portal offers: %(codes)s.",
            codes=", ".join(offered),
        )
    chosen = [code for code in offered if code in chosen]  # the installation's order, no repeats
    default_language = (default_language or "").strip()
    if not errors.get("languages") and default_language not in chosen:
        errors["default_language"] = _l("The default language must be one of the group's.")
    return chosen, default_language


def create(slug: str, name: str, languages, default_language: str) -> SiteGroup:
    """A new, empty site group; raises InvalidFields naming every value refused."""
    errors: dict = {}
    slug = (slug or "").strip()
    if not SLUG.match(slug):
        errors["slug"] = _l("Use 1 to 40 lower-case letters, digits and hyphens.")
    elif find(slug) is not None:
        errors["slug"] = _l("Another site group already uses this slug.")
    name = _clean_name(name, errors)
    languages, default_language = _clean_languages(languages, default_language, errors)
    if errors:
        raise InvalidFields(errors)
    with commit_session():
        group = SiteGroup(
            slug=slug, name=name, languages=languages, default_language=default_language
        )
        db.session.add(group)
        db.session.flush()
        audit.record(group.id, None, "group.create", f"group:{group.slug}", after=_state(group))
    return group


def rename(group: SiteGroup, name: str) -> None:
    errors: dict = {}
    name = _clean_name(name, errors)
    if errors:
        raise InvalidFields(errors)
    with commit_session():
        before = _state(group)
        group.name = name
        audit.record(
            group.id,
            None,
            "group.update",
            f"group:{group.slug}",
            before=before,
            after=_state(group),
        )


def _state(group: SiteGroup) -> dict:
    state = {key: getattr(group, key) for key in SETTINGS}
    state["logo"] = group.logo_type
    return state


def clean_settings(data, languages) -> dict:
    """The settings of the form ``data`` (``languages`` the chosen codes), checked; raises
    InvalidFields naming every value refused."""
    errors: dict = {}
    values = {key: (data.get(key) or "").strip() for key in SETTINGS if key != "languages"}
    values["name"] = _clean_name(values["name"], errors)
    values["languages"], values["default_language"] = _clean_languages(
        languages, values["default_language"], errors
    )
    if len(values["postal_address"]) > 500:
        errors["postal_address"] = _l("The postal address is too long (500 characters at most).")
    if values["privacy_policy_url"]:
        url = urlsplit(values["privacy_policy_url"])
        if url.scheme not in ("http", "https") or not url.netloc:
            errors["privacy_policy_url"] = _l(
                "Enter the full address, like https://example.com/privacy."
            )
        elif len(values["privacy_policy_url"]) > 500:
            errors["privacy_policy_url"] = _l("The address is too long (500 characters at most).")
    values["sender_domain"] = values["sender_domain"].lower().rstrip(".")
    if values["sender_domain"] and not DOMAIN.match(values["sender_domain"]):
        errors["sender_domain"] = _l("Enter a domain name, like news.example.com.")
    if values["reply_to"]:
        try:
            values["reply_to"] = normalise_email(values["reply_to"])
        except InvalidInput as refused:
            errors["reply_to"] = refused.message
    if errors:
        raise InvalidFields(errors)
    return values


def update(admin: AdminAccount, data, languages, logo: tuple[bytes, str] | None = None) -> None:
    """Change the admin's group settings (and logo, when one is given), audited."""
    values = clean_settings(data, languages)
    group = admin.group
    with commit_session():
        before = _state(group)
        for key, value in values.items():
            setattr(group, key, value)
        if logo is not None:
            group.logo, group.logo_type = logo
        audit.record(
            group.id,
            admin,
            "group.update",
            f"group:{group.slug}",
            before=before,
            after=_state(group),
        )
