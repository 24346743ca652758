"""API clients as the console manages them: who may see, create, re-key and revoke which
client.

An owner manages every client of their group. A brand admin manages only clients restricted
to brands given to them (a client of every brand could read the people of brands they do not
run). Only an owner may mark a client a verified source, because its email grants then skip
double opt-in. Every change is one transaction with its audit row; the key is never audited.
"""

from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.core.console import admins, audit
from portal.core.console.models import OWNER, AdminAccount
from portal.core.integrations import clients, recipients, webhook_ops, webhooks
from portal.core.integrations.models.api import SCOPES, ApiClient, WebhookDelivery, WebhookEndpoint
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidFields, InvalidInput, Refused
from portal.core.kernel.transaction import commit_session
from portal.extensions import db

MAX_NAME = 80


def may_manage(admin: AdminAccount, client: ApiClient) -> bool:
    if client.group_id != admin.group_id or not admins.can(admin, "manage_api_clients"):
        return False
    if admin.role == OWNER:
        return True
    mine = {brand.id for brand in admin.brands}
    return client.brand_ids is not None and set(client.brand_ids) <= mine


def visible(admin: AdminAccount) -> list[ApiClient]:
    """The clients of the admin's group this admin may manage, oldest first."""
    rows = db.session.scalars(
        select(ApiClient).where(ApiClient.group_id == admin.group_id).order_by(ApiClient.id)
    )
    return [client for client in rows if may_manage(admin, client)]


def _state(client: ApiClient) -> dict:
    return {
        "name": client.name,
        "scopes": list(client.scopes),
        "brands": None if client.brand_ids is None else list(client.brand_ids),
        "verified_source": client.verified_source,
        "terms_version": client.terms_version,
        "revoked": client.revoked_at is not None,
    }


def create(
    admin: AdminAccount, name: str, scopes: list[str], brand_ids: list[int], verified: bool
) -> tuple[ApiClient, str]:
    """A new client of the admin's group; returns it and its key, which is never shown again.

    Raises InvalidFields naming every value that is not acceptable.
    """
    errors = {}
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        errors["name"] = _l("Give the client a name (at most 80 characters).")
    if not scopes or any(scope not in SCOPES for scope in scopes):
        errors["scopes"] = _l("Choose at least one scope.")
    allowed = {brand.id: brand for brand in admins.visible_brands(admin)}
    if any(brand_id not in allowed for brand_id in brand_ids):
        errors["brands"] = _l("Choose only brands you manage.")
    elif admin.role != OWNER and not brand_ids:
        errors["brands"] = _l("Choose at least one of your brands.")
    if verified and admin.role != OWNER:
        errors["verified_source"] = _l("Only an owner may mark a client a verified source.")
    if errors:
        raise InvalidFields(errors)
    restriction = sorted(set(brand_ids)) or None
    with commit_session():
        client, key = clients.add(admin.group, name, scopes, restriction, verified)
        audit.record(
            admin.group_id,
            admin,
            "api_client.create",
            f"api_client:{client.id}",
            after=_state(client),
        )
    return client, key


def record_terms(admin: AdminAccount, client: ApiClient, text: str, agreed_on: str) -> int:
    """Record a new version of the processing terms ``client`` agreed to, with its audit row;
    the client is from then on a recipient of personal data. Returns the version. Raises
    InvalidFields (an owner only; text and a date not in the future)."""
    if not admins.can(admin, "manage_recipients") or client.group_id != admin.group_id:
        raise InvalidFields({"text": _l("Only an owner may record processing terms.")})
    try:
        day = date.fromisoformat(agreed_on or "")
    except ValueError:
        day = None
    errors = {}
    if not (text or "").strip() or len(text.strip()) > recipients.MAX_TERMS:
        errors["text"] = _l("Give the text of the terms (at most 2000 characters).")
    if day is None or day > clock.now().date():
        errors["agreed_on"] = _l("Give the date the terms were agreed, not in the future.")
    if client.revoked_at is not None:
        errors["text"] = _l("A revoked client receives nothing: it needs no terms.")
    if errors:
        raise InvalidFields(errors)
    with commit_session():
        before = client.terms_version
        terms = recipients.record_terms(client, text, day, f"admin:{admin.id}")
        audit.record(
            admin.group_id,
            admin,
            "api_client.terms",
            f"api_client:{client.id}",
            before={"terms_version": before},
            after={"terms_version": terms.version, "agreed_on": day.isoformat()},
        )
    clients.forget(client.id)  # a key remembered without terms would still be refused data
    return terms.version


def revoke(admin: AdminAccount, client: ApiClient) -> bool:
    """Revoke ``client``: its key stops working (at once here, within API_KEY_CACHE_SECONDS on
    other app servers). False if it was revoked already."""
    if client.revoked_at is not None:
        return False
    with commit_session():
        before = _state(client)
        client.revoked_at = clock.now()
        audit.record(
            admin.group_id,
            admin,
            "api_client.revoke",
            f"api_client:{client.id}",
            before=before,
            after=_state(client),
        )
    clients.forget(client.id)
    return True


def endpoints(client: ApiClient) -> list[WebhookEndpoint]:
    """Every webhook endpoint of ``client``, removed ones too (their log is still of use)."""
    return list(
        db.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.client_id == client.id)
            .order_by(WebhookEndpoint.id)
        )
    )


def deliveries(client: ApiClient, endpoint_id: int) -> list[WebhookDelivery]:
    """The latest deliveries of one endpoint of ``client``; raises NotFound for another's."""
    return webhooks.deliveries(client, endpoint_id)


def rotate_key(admin: AdminAccount | None, client: ApiClient, hours: float | None = None) -> str:
    """A new key for ``client`` with its audit row (``admin`` None: the command line); the
    current key stays valid ``hours`` (``API_KEY_OVERLAP_HOURS``) or until retired. Returns the
    new key, shown once. Raises InvalidFields when the previous key is still valid or the
    client is revoked."""
    if hours is not None and not (0 < hours <= 366 * 24):  # NaN fails this too
        raise InvalidFields(
            {"overlap_hours": _l("The overlap is more than 0 hours and at most a year.")}
        )
    overlap = None if hours is None else timedelta(hours=hours)
    try:
        with commit_session():
            before = clients.keys_state(client)
            key = clients.rotate(client, overlap)
            audit.record(
                client.group_id,
                admin,
                "api_client.rotate",
                f"api_client:{client.id}",
                before=before,
                after=clients.keys_state(client),
            )
    except Refused as refused:
        messages = {
            "revoked": _l("A revoked client gets no new key."),
            "previous-key-valid": _l(
                "The previous key is still valid: retire it before rotating again."
            ),
        }
        raise InvalidFields({"key": messages[refused.reason]}) from None
    except InvalidInput:
        raise InvalidFields(
            {"overlap_hours": _l("The overlap is more than 0 hours and at most a year.")}
        ) from None
    clients.forget(client.id)
    return key


def retire_key(admin: AdminAccount | None, client: ApiClient) -> bool:
    """End the previous key of ``client`` now, with its audit row; False (nothing written) if
    it had no valid previous key."""
    if not client.previous_key_prefix:
        return False
    with commit_session():
        before = clients.keys_state(client)
        retired = clients.retire(client)
        audit.record(
            client.group_id,
            admin,
            "api_client.retire",
            f"api_client:{client.id}",
            before=before,
            after=clients.keys_state(client),
        )
    clients.forget(client.id)
    return retired


def ping(admin: AdminAccount, client: ApiClient, endpoint_id: int) -> None:
    """Queue a test ping to one endpoint of ``client``, with its audit row; NotFound for an
    endpoint not the client's or removed."""
    with commit_session():
        webhook_ops.ping(client, endpoint_id)
        audit.record(client.group_id, admin, "webhook.ping", f"webhook:{endpoint_id}")


def redeliver(
    admin: AdminAccount | None,
    client: ApiClient,
    endpoint_id: int,
    delivery_id: int | None = None,
    since: datetime | None = None,
) -> int:
    """Queue again the failed deliveries of one endpoint of ``client`` (one, or all since a
    time), with an audit row (``admin`` None: the command line); how many. NotFound for an
    endpoint or delivery not the client's; InvalidFields for a delivery that has not failed."""
    try:
        with commit_session():
            count = redeliver_audited(admin, client, endpoint_id, delivery_id, since)
    except InvalidInput:
        raise InvalidFields(
            {"delivery": _l("Only a delivery that failed every attempt can be sent again.")}
        ) from None
    return count


def redeliver_audited(
    admin: AdminAccount | None,
    client: ApiClient,
    endpoint_id: int,
    delivery_id: int | None = None,
    since: datetime | None = None,
    actor: str | None = None,
) -> int:
    """``redeliver`` in the caller's transaction (the API's, with its Idempotency-Key): the
    same audit row, its actor ``actor`` when an API client asked (``audit.api_actor``).
    NotFound as ``redeliver``; InvalidInput for a delivery that has not failed."""
    endpoint = webhook_ops.live_endpoint(client, endpoint_id)
    count = webhook_ops.redeliver(endpoint, delivery_id, since)
    audit.record(
        client.group_id,
        admin,
        "webhook.redeliver",
        f"webhook:{endpoint.id}",
        after={
            "delivery": delivery_id,
            "since": since.isoformat() if since else None,
            "count": count,
        },
        actor=actor,
    )
    return count
