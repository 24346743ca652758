"""What a client may discover before it writes: its brands, their topics and consent texts.

A client limited to some brands sees the group as if only those brands existed (as lookups
do). The answers are plain data in a stable order, so the same state always gives the same
document, and a hash of it can serve as the document's ETag.
"""

from sqlalchemy import select

from portal.core.integrations.clients import brands_of
from portal.core.integrations.models.api import ApiClient
from portal.core.kernel.errors import NotFound
from portal.core.kernel.models.group import Brand, ConsentText
from portal.extensions import db


def _visible(client: ApiClient, brand_slug: str | None) -> list[Brand]:
    """The client's brands in the group's order; only ``brand_slug`` when given.

    A brand of the group that is closed to this client reads exactly like no brand (NotFound).
    """
    brands = sorted(brands_of(client), key=lambda brand: (brand.position, brand.id))
    if brand_slug is None:
        return brands
    chosen = [brand for brand in brands if brand.slug == brand_slug]
    if not chosen:
        raise NotFound(f"no brand {brand_slug!r} open to client {client.id}")
    return chosen


def _latest_versions(brand_ids: list[int]) -> dict[int, int]:
    rows = db.session.execute(
        select(ConsentText.brand_id, ConsentText.version).where(ConsentText.brand_id.in_(brand_ids))
    )
    latest: dict[int, int] = {}
    for brand_id, version in rows:
        latest[brand_id] = max(version, latest.get(brand_id, 0))
    return latest


def brands(client: ApiClient) -> list[dict]:
    """The brands open to the client, with their policy and latest consent-text version."""
    visible = _visible(client, None)
    latest = _latest_versions([brand.id for brand in visible])
    return [
        {
            "slug": brand.slug,
            "name": brand.name,
            "policy_version": brand.policy_version,
            "privacy_policy_url": brand.privacy_policy_url,
            "latest_text_version": latest.get(brand.id),
            "archived": brand.archived_at is not None,
        }
        for brand in visible
    ]


def topics(client: ApiClient, brand_slug: str | None = None) -> list[dict]:
    """The topics of the client's brands (or of one), with their channels and their names
    and descriptions in each language; in the order people see them."""
    return [
        {
            "brand": brand.slug,
            "key": topic.key,
            "names": dict(topic.names),
            "descriptions": dict(topic.descriptions),
            "channels": list(topic.channels),
            "marketing": topic.marketing,
        }
        for brand in _visible(client, brand_slug)
        for topic in brand.topics
    ]


def consent_texts(client: ApiClient, brand_slug: str | None = None) -> list[dict]:
    """Every version of the consent texts of the client's brands (or of one), oldest first,
    with the languages each exists in: a grant names one of these versions (``text_version``).
    """
    visible = _visible(client, brand_slug)
    order = {brand.id: index for index, brand in enumerate(visible)}
    slugs = {brand.id: brand.slug for brand in visible}
    texts = sorted(
        db.session.scalars(select(ConsentText).where(ConsentText.brand_id.in_(list(order)))),
        key=lambda text: (order[text.brand_id], text.version),
    )
    latest = _latest_versions(list(order))
    return [
        {
            "brand": slugs[text.brand_id],
            "version": text.version,
            "latest": text.version == latest[text.brand_id],
            "languages": sorted(language for language, words in text.texts.items() if words),
            "texts": dict(text.texts),
            "created_at": text.created_at.isoformat(),
        }
        for text in texts
    ]
