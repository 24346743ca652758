"""API clients: create, authenticate, revoke. A key is shown once and kept only as a hash.

A key reads ``<prefix>.<secret>``. The prefix (not secret) finds the row; the SHA-256 of the
whole key proves it, compared in constant time. A fast hash is enough: the secret is 256 random
bits, not a password a person chose.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select, update

from portal.core import clock
from portal.core.errors import InvalidInput, NotFound
from portal.core.models import ApiClient, Brand, SiteGroup
from portal.core.models.api import SCOPES
from portal.core.transaction import transaction
from portal.extensions import db

KEY_PREFIX = "cp_"
# Writing last use on every request would turn each read into a write; a minute is precise enough.
LAST_USE_PRECISION = timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> tuple[str, str]:
    prefix = KEY_PREFIX + secrets.token_hex(6)
    return prefix, f"{prefix}.{secrets.token_urlsafe(32)}"


def create(
    group_slug: str,
    name: str,
    scopes: list[str],
    brand_slugs: list[str] | None = None,
    verified_source: bool = False,
) -> tuple[ApiClient, str]:
    """A new client of one group; returns it and its key, which is never available again."""
    group = db.session.scalar(select(SiteGroup).where(SiteGroup.slug == group_slug))
    if group is None:
        raise NotFound(f"no site group {group_slug!r}")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidInput("scope", f"scopes must be among {', '.join(SCOPES)}")
    if not name.strip():
        raise InvalidInput("name", "a client needs a name")
    brand_ids = None
    if brand_slugs:
        brands = {brand.slug: brand.id for brand in group.brands}
        missing = [slug for slug in brand_slugs if slug not in brands]
        if missing:
            raise InvalidInput("brand", f"no brand {missing[0]!r} in {group_slug}")
        brand_ids = sorted({brands[slug] for slug in brand_slugs})
    with transaction():
        return add(group, name, scopes, brand_ids, verified_source)


def add(
    group: SiteGroup,
    name: str,
    scopes: list[str],
    brand_ids: list[int] | None,
    verified_source: bool,
) -> tuple[ApiClient, str]:
    """Add a checked client in the caller's transaction; returns it and its key (shown once)."""
    prefix, key = _new_key()
    client = ApiClient(
        group_id=group.id,
        name=name.strip()[:80],
        key_prefix=prefix,
        key_hash=_hash(key),
        scopes=sorted(set(scopes)),
        brand_ids=brand_ids,
        verified_source=verified_source,
        created_at=clock.now(),
    )
    db.session.add(client)
    db.session.flush()
    return client, key


def reissue(client_id: int) -> str:
    """Replace a client's key; the old key stops working at once."""
    prefix, key = _new_key()
    with transaction():
        client = db.session.get(ApiClient, client_id)
        if client is None:
            raise NotFound(f"no API client {client_id}")
        client.key_prefix, client.key_hash = prefix, _hash(key)
    return key


def authenticate(key: str) -> ApiClient | None:
    """The live client a key belongs to, or None; records when the client was last used."""
    prefix = key.split(".", 1)[0]
    if not key.startswith(KEY_PREFIX) or len(prefix) > 16:
        return None
    client = db.session.scalar(select(ApiClient).where(ApiClient.key_prefix == prefix))
    if client is None or client.revoked_at is not None:
        return None
    if not hmac.compare_digest(client.key_hash, _hash(key)):
        return None
    now = clock.now()
    if client.last_used_at is None or now - client.last_used_at > LAST_USE_PRECISION:
        with transaction():
            db.session.execute(
                update(ApiClient).where(ApiClient.id == client.id).values(last_used_at=now)
            )
    return client


def revoke(client_id: int) -> ApiClient:
    with transaction():
        client = db.session.get(ApiClient, client_id)
        if client is None:
            raise NotFound(f"no API client {client_id}")
        if client.revoked_at is None:
            client.revoked_at = clock.now()
    return client


def listing(group_slug: str | None = None) -> list[ApiClient]:
    query = select(ApiClient).join(SiteGroup).order_by(SiteGroup.slug, ApiClient.id)
    if group_slug:
        query = query.where(SiteGroup.slug == group_slug)
    return list(db.session.scalars(query))


def brands_of(client: ApiClient) -> list[Brand]:
    """The brands a client may see: its restriction, or every brand of its group."""
    brands = client.group.brands
    return [b for b in brands if client.brand_ids is None or b.id in client.brand_ids]


DEMO_NAME = "Demo CRM"


def demo_key(group_slug: str) -> str:
    """A working key for the demo client of ``group_slug``: created once, re-keyed each call.

    ``make run`` prints it; the old key stops working, and no key is ever stored in clear.
    """
    client = db.session.scalar(
        select(ApiClient)
        .join(SiteGroup)
        .where(SiteGroup.slug == group_slug, ApiClient.name == DEMO_NAME)
    )
    if client is None:
        return create(group_slug, DEMO_NAME, list(SCOPES))[1]
    if client.revoked_at is not None:
        with transaction():
            client.revoked_at = None
    return reissue(client.id)
