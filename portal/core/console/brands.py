"""Setting up a group's brands: create, edit, archive, restore, logo.

Archiving hides the brand's sign-up page but keeps its consents and their proof; nothing here
deletes a brand. Every change is one transaction with one audit row holding before and after.
"""

import re
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.core.console import audit
from portal.core.console.models import AdminAccount
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidFields, InvalidInput
from portal.core.kernel.models.group import Brand, ConsentText
from portal.core.kernel.transaction import transaction
from portal.core.people.subjects import normalise_email
from portal.extensions import db

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
SETTINGS = (
    "slug",
    "name",
    "sender_name",
    "sender_address",
    "reply_to",
    "postal_address",
    "colour",
    "privacy_policy_url",
)
PNG, JPEG = b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"


def _contrast_with_white(colour: str) -> float:
    """WCAG 2 contrast ratio of white text on ``colour`` (buttons and banners use both)."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return 1.05 / (luminance + 0.05)


def clean_settings(group_id: int, data: dict, brand: Brand | None = None) -> dict:
    """The brand settings in ``data``, checked; raises InvalidFields naming every bad one."""
    values = {key: (data.get(key) or "").strip() for key in SETTINGS}
    errors = {}
    if not SLUG.match(values["slug"]):
        errors["slug"] = _l("Use 1 to 40 lower-case letters, digits and hyphens.")
    elif db.session.scalar(
        select(Brand.id).where(
            Brand.group_id == group_id,
            Brand.slug == values["slug"],
            Brand.id != (brand.id if brand else 0),
        )
    ):
        errors["slug"] = _l("Another brand of this group already uses this slug.")
    for key in ("name", "sender_name"):
        if not values[key] or len(values[key]) > 120:
            errors[key] = _l("Enter a name of 1 to 120 characters.")
    for key, required in (("sender_address", True), ("reply_to", False)):
        if values[key] or required:
            try:
                values[key] = normalise_email(values[key])
            except InvalidInput as refused:
                errors[key] = refused.message
    if len(values["postal_address"]) > 500:
        errors["postal_address"] = _l("The postal address is too long (500 characters at most).")
    if not COLOUR.match(values["colour"]):
        errors["colour"] = _l("Enter a colour like #7a1f3d.")
    elif _contrast_with_white(values["colour"]) < 4.5:
        errors["colour"] = _l("White text on this colour is hard to read: choose a darker one.")
    url = urlsplit(values["privacy_policy_url"])
    if url.scheme not in ("http", "https") or not url.netloc or len(url.geturl()) > 500:
        errors["privacy_policy_url"] = _l(
            "Enter the full address, like https://example.com/privacy."
        )
    if errors:
        raise InvalidFields(errors)
    values["colour"] = values["colour"].lower()
    return values


def check_logo(content: bytes, max_bytes: int) -> tuple[bytes, str]:
    """(content, media type) of an acceptable logo: PNG or JPEG by content, not by name.

    SVG is refused: it can carry scripts and outside references, and we do not sanitise it.
    """
    if len(content) > max_bytes:
        raise InvalidInput(
            "logo", _l("The logo is too large (%(kb)s KB at most).", kb=max_bytes // 1024)
        )
    if content.startswith(PNG):
        return content, "image/png"
    if content.startswith(JPEG):
        return content, "image/jpeg"
    raise InvalidInput("logo", _l("The logo must be a PNG or JPEG image (SVG is not accepted)."))


def _state(brand: Brand) -> dict:
    state = {key: getattr(brand, key) for key in SETTINGS}
    state["logo"] = brand.logo_type
    state["archived"] = brand.archived_at is not None
    return state


def create(admin: AdminAccount, data: dict, texts: dict, policy_version: str) -> Brand:
    """A new brand with its first consent text (version 1) and policy version."""
    from portal.core.consent.topics import clean_texts, clean_version

    errors, values = {}, {}
    try:
        values = clean_settings(admin.group_id, data)
    except InvalidFields as refused:
        errors.update(refused.errors)
    try:
        texts = clean_texts(texts)
    except InvalidFields as refused:
        errors.update(refused.errors)
    try:
        values["policy_version"] = clean_version(policy_version)
    except InvalidInput as refused:
        errors[refused.field] = refused.message
    if errors:
        raise InvalidFields(errors)
    with transaction():
        position = len(admin.group.brands)
        brand = Brand(group_id=admin.group_id, position=position, **values)
        db.session.add(brand)
        db.session.flush()
        db.session.add(
            ConsentText(brand_id=brand.id, version=1, texts=texts, created_at=clock.now())
        )
        audit.record(
            admin.group_id,
            admin,
            "brand.create",
            f"brand:{brand.id}",
            brand_id=brand.id,
            after=_state(brand) | {"policy_version": brand.policy_version},
        )
    return brand


def update(admin: AdminAccount, brand: Brand, data: dict, logo: tuple[bytes, str] | None = None):
    """Change a brand's settings (and logo, when one is given)."""
    values = clean_settings(brand.group_id, data, brand)
    with transaction():
        before = _state(brand)
        for key, value in values.items():
            setattr(brand, key, value)
        if logo is not None:
            brand.logo, brand.logo_type = logo
        audit.record(
            brand.group_id,
            admin,
            "brand.update",
            f"brand:{brand.id}",
            brand_id=brand.id,
            before=before,
            after=_state(brand),
        )


def set_archived(admin: AdminAccount, brand: Brand, archived: bool) -> None:
    """Archive (hide the sign-up page, keep consents and proof) or bring a brand back."""
    with transaction():
        before = _state(brand)
        brand.archived_at = clock.now() if archived else None
        audit.record(
            brand.group_id,
            admin,
            "brand.archive" if archived else "brand.restore",
            f"brand:{brand.id}",
            brand_id=brand.id,
            before=before,
            after=_state(brand),
        )
