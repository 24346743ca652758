"""API clients: create, authenticate, rotate, revoke. A key is shown once and kept only as a
hash.

A key reads ``<prefix>.<secret>``. The prefix (not secret) finds the row; the SHA-256 of the
whole key proves it, compared in constant time. A fast hash is enough: the secret is 256 random
bits, not a password a person chose.

Rotation gives a client a new key while the old one keeps working for an overlap window
(``API_KEY_OVERLAP_HOURS`` by default), so its servers can move over one by one; retiring ends
the old key at once. A client has at most two valid keys.
"""

import hashlib
import hmac
import secrets
import time
from dataclasses import make_dataclass, replace
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import inspect, or_, select, update

from portal.core.integrations import recipients
from portal.core.integrations.models.api import SCOPES, ApiClient
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidInput, NotFound, Refused
from portal.core.kernel.models.group import Brand, SiteGroup
from portal.core.kernel.transaction import commit_session
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
    terms: tuple[str, date] | None = None,
) -> tuple[ApiClient, str]:
    """A new client of one group; returns it and its key, which is never available again.

    ``terms``: (text, date agreed) of the processing terms it accepted, making it a recipient
    of personal data (``recipients``); without them it receives none."""
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
    with commit_session():
        client, key = add(group, name, scopes, brand_ids, verified_source)
        if terms is not None:
            recipients.record_terms(client, terms[0], terms[1], "cli")
        return client, key


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
    with commit_session():
        client = db.session.get(ApiClient, client_id)
        if client is None:
            raise NotFound(f"no API client {client_id}")
        client.key_prefix, client.key_hash = prefix, _hash(key)
        client.previous_key_prefix = client.previous_key_hash = client.previous_key_until = None
    forget(client_id)
    return key


def key_matches(client: ApiClient, key: str, now=None) -> bool:
    """``key`` is the client's current key, or its previous key within the overlap window."""
    prefix, digest = key.split(".", 1)[0], _hash(key)
    if not prefix_valid(client, prefix, now):
        return False
    if prefix == client.key_prefix:
        return hmac.compare_digest(client.key_hash, digest)
    return bool(client.previous_key_hash) and hmac.compare_digest(client.previous_key_hash, digest)


def prefix_valid(client: ApiClient, prefix: str, now=None) -> bool:
    """The key of this prefix still opens the client: its current one, or its previous one
    before retirement and the end of the overlap."""
    if client.revoked_at is not None:
        return False
    if prefix == client.key_prefix:
        return True
    until = client.previous_key_until
    return (
        prefix == client.previous_key_prefix and until is not None and (now or clock.now()) < until
    )


def find(key: str) -> ApiClient | None:
    """The live client whose current or previous key is ``key`` (not cached, no last use)."""
    prefix = key.split(".", 1)[0]
    if not key.startswith(KEY_PREFIX) or len(prefix) > 16:
        return None
    client = db.session.scalar(
        select(ApiClient).where(
            or_(ApiClient.key_prefix == prefix, ApiClient.previous_key_prefix == prefix)
        )
    )
    if client is None or not key_matches(client, key):
        return None
    return client


def authenticate(key: str) -> "RememberedClient | None":
    """The live client a key belongs to, or None; records when the client was last used."""
    prefix = key.split(".", 1)[0]
    if not key.startswith(KEY_PREFIX) or len(prefix) > 16:
        return None
    digest = _hash(key)
    client = _remembered(digest)
    if client is not None and not prefix_valid(client, prefix):
        _recent.pop(digest, None)  # the overlap of a remembered previous key ended
        client = None
    if client is None:
        found = find(key)
        if found is None:
            return None
        client = remembered(found)
        _remember(digest, client)
    return used(client, digest)


def used(client: "RememberedClient", digest: str) -> "RememberedClient":
    """Record the client's last use (to the minute); returns it as a request sees it."""
    now = clock.now()
    if client.last_used_at is None or now - client.last_used_at > LAST_USE_PRECISION:
        with commit_session():
            db.session.execute(
                update(ApiClient).where(ApiClient.id == client.id).values(last_used_at=now)
            )
        client = replace(client, last_used_at=now)
        entry = _recent.get(digest)
        if entry is not None:
            _recent[digest] = (entry[0], client)
    return client


def by_token(client_id: int, prefix: str) -> "RememberedClient | None":
    """The live client an access token names, if the key it was issued for still opens it
    (a retired or rotated-out key ends its tokens too); cached like keys."""
    digest = f"token:{client_id}:{prefix}"
    client = _remembered(digest)
    if client is None:
        found = db.session.get(ApiClient, client_id)
        if found is None:
            return None
        client = remembered(found)
        _remember(digest, client)
    if not prefix_valid(client, prefix):
        return None
    return used(client, digest)


# Clients this process authenticated in the last API_KEY_CACHE_SECONDS, by key hash: a busy
# client's requests skip a database round trip each. Revoking or re-keying forgets the client
# here at once; other processes stop accepting the old key within those seconds (0: never kept).
_recent: dict[str, tuple[float, "RememberedClient"]] = {}
_MAX_REMEMBERED = 1000
_COLUMNS = tuple(attribute.key for attribute in inspect(ApiClient).column_attrs)


def _group(client) -> SiteGroup:
    return db.session.get(SiteGroup, client.group_id)


# An API client as the request's guard checked it: its columns, read-only, with its group
# loaded from the request's session when asked. Made once per key and cache time, not per
# request: attaching a fresh ORM object to each request's session cost a tenth of a lookup.
# Changing a client (revoke, rotate, terms) goes through the ORM object in the console and the
# command line, never through this one (its attributes cannot be set).
RememberedClient = make_dataclass(
    "RememberedClient",
    _COLUMNS,
    frozen=True,
    slots=True,
    namespace={
        "group": property(_group),
        "may_see": ApiClient.may_see,
        "__doc__": "An API client's columns as checked (see the comment above).",
    },
)


def remembered(client: ApiClient) -> "RememberedClient":
    """The client as a request sees it: its columns, lists as tuples (shared between threads)."""
    values = {name: getattr(client, name) for name in _COLUMNS}
    for name in ("scopes", "brand_ids"):
        if values[name] is not None:
            values[name] = tuple(values[name])
    return RememberedClient(**values)


def _remember(digest: str, client: "RememberedClient") -> None:
    if current_app.config["API_KEY_CACHE_SECONDS"] <= 0:
        return
    if len(_recent) >= _MAX_REMEMBERED:
        _recent.clear()
    _recent[digest] = (time.monotonic(), client)


def _remembered(digest: str) -> "RememberedClient | None":
    entry = _recent.get(digest)
    if entry is None:
        return None
    remembered_at, client = entry
    if time.monotonic() - remembered_at > current_app.config["API_KEY_CACHE_SECONDS"]:
        _recent.pop(digest, None)
        return None
    return client


def forget(client_id: int) -> None:
    """Stop accepting the client's remembered key in this process (revoked or re-keyed).
    Called once the change is committed, so no request can remember the old state again."""
    for digest, (_, client) in list(_recent.items()):
        if client.id == client_id:
            _recent.pop(digest, None)


def rotate(client: ApiClient, overlap: timedelta | None = None) -> str:
    """Give ``client`` a new key in the caller's transaction; its current key stays valid for
    ``overlap`` (``API_KEY_OVERLAP_HOURS``) or until retired. Returns the new key, shown once.

    Refused while an earlier previous key is still valid: a client has at most two keys, so
    retire the old one first."""
    now = clock.now()
    if client.revoked_at is not None:
        raise Refused("revoked", "A revoked client gets no new key.")
    if client.previous_key_prefix and prefix_valid(client, client.previous_key_prefix, now):
        raise Refused(
            "previous-key-valid",
            "The previous key is still valid: retire it before rotating again.",
        )
    if overlap is None:
        overlap = timedelta(hours=current_app.config["API_KEY_OVERLAP_HOURS"])
    if overlap <= timedelta(0) or overlap > timedelta(days=366):
        raise InvalidInput("overlap", "the overlap is more than 0 hours and at most a year")
    prefix, key = _new_key()
    client.previous_key_prefix, client.previous_key_hash = client.key_prefix, client.key_hash
    client.previous_key_until = now + overlap
    client.key_prefix, client.key_hash = prefix, _hash(key)
    db.session.flush()
    return key


def retire(client: ApiClient) -> bool:
    """End the previous key of ``client`` now (caller's transaction); False if it had none
    still valid."""
    valid = bool(client.previous_key_prefix) and prefix_valid(client, client.previous_key_prefix)
    client.previous_key_prefix = client.previous_key_hash = client.previous_key_until = None
    db.session.flush()
    return valid


def keys_state(client: ApiClient) -> dict:
    """What an audit row says of a client's keys: prefixes and the overlap, never a secret."""
    until = client.previous_key_until
    previous = client.previous_key_prefix if until and clock.now() < until else None
    return {
        "key_prefix": client.key_prefix,
        "previous_key_prefix": previous,
        "previous_key_until": until.isoformat() if previous else None,
    }


def revoke(client_id: int) -> ApiClient:
    with commit_session():
        client = db.session.get(ApiClient, client_id)
        if client is None:
            raise NotFound(f"no API client {client_id}")
        if client.revoked_at is None:
            client.revoked_at = clock.now()
    forget(client_id)
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
DEMO_TERMS = "Demo data processing agreement: processes subscribers' data only for the group's "
"marketing, keeps it no longer than the group does, and erases it when asked."


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
        return create(group_slug, DEMO_NAME, list(SCOPES), terms=(DEMO_TERMS, clock.now().date()))[
            1
        ]
    if client.revoked_at is not None or client.terms_version is None:
        with commit_session():
            client.revoked_at = None
            if client.terms_version is None:
                recipients.record_terms(client, DEMO_TERMS, clock.now().date(), "cli")
    return reissue(client.id)
