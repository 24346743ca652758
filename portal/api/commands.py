"""``flask api-clients``: create, list, rotate and retire keys, revoke API clients; a key for
the demo."""

from datetime import UTC, datetime

import click

from portal.core.console import client_admin
from portal.core.integrations import clients
from portal.core.integrations.models.api import SCOPES, ApiClient
from portal.core.kernel.errors import InvalidFields, InvalidInput, NotFound
from portal.extensions import db

api_clients_cli = click.Group("api-clients", help="Keys of the systems that use the API.")


@api_clients_cli.command("create")
@click.option("--group", "group_slug", required=True, help="Slug of the site group.")
@click.option("--name", required=True, help="What the client is, e.g. CRM.")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(SCOPES))
@click.option("--brand", "brands", multiple=True, help="Limit to this brand (repeatable).")
@click.option("--verified-source", is_flag=True, help="Its email grants skip double opt-in.")
@click.option("--terms", help="The processing terms it agreed to: it then receives personal data.")
@click.option(
    "--terms-date", type=click.DateTime(formats=["%Y-%m-%d"]), help="When it agreed (today)."
)
def create(group_slug, name, scopes, brands, verified_source, terms, terms_date):
    """Create a client and print its key, once: it is stored only as a hash."""
    agreed = (terms_date or datetime.now(UTC)).date()
    try:
        client, key = clients.create(
            group_slug,
            name,
            list(scopes),
            list(brands) or None,
            verified_source,
            terms=(terms, agreed) if terms else None,
        )
    except (InvalidInput, NotFound) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"created API client {client.id} ({client.name}) for {group_slug}")
    click.echo(f"key (shown once): {key}")


@api_clients_cli.command("list")
@click.option("--group", "group_slug", help="Only this site group.")
def listing(group_slug):
    """Every client: id, group, name, scopes, brands, last use, revoked."""
    for client in clients.listing(group_slug):
        brands = "all brands" if client.brand_ids is None else f"brands {client.brand_ids}"
        state = f"revoked {client.revoked_at:%Y-%m-%d}" if client.revoked_at else "active"
        used = f"{client.last_used_at:%Y-%m-%d %H:%M}" if client.last_used_at else "never"
        verified = ", verified source" if client.verified_source else ""
        click.echo(
            f"{client.id}\t{client.group.slug}\t{client.name}\t{' '.join(client.scopes)}\t"
            f"{brands}{verified}\tlast used {used}\t{state}\t{client.key_prefix}"
        )


@api_clients_cli.command("revoke")
@click.argument("client_id", type=int)
def revoke(client_id):
    """Revoke a client: its key stops working at once."""
    try:
        client = clients.revoke(client_id)
    except NotFound as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"revoked API client {client.id} ({client.name})")


def _client(client_id: int) -> ApiClient:
    client = db.session.get(ApiClient, client_id)
    if client is None:
        raise click.ClickException(f"no API client {client_id}")
    return client


@api_clients_cli.command("rotate")
@click.argument("client_id", type=int)
@click.option(
    "--overlap-hours",
    type=float,
    help="Hours the current key keeps working (default: API_KEY_OVERLAP_HOURS).",
)
def rotate(client_id, overlap_hours):
    """Give a client a new key; the current one keeps working for the overlap or until
    `retire` (audited)."""
    client = _client(client_id)
    try:
        key = client_admin.rotate_key(None, client, overlap_hours)
    except InvalidFields as refused:
        raise click.ClickException(" ".join(str(m) for m in refused.errors.values())) from None
    click.echo(f"new key for API client {client.id} ({client.name}) (shown once): {key}")
    click.echo(
        f"the previous key {client.previous_key_prefix}… works until "
        f"{client.previous_key_until:%Y-%m-%d %H:%M} UTC; end it sooner with "
        f"`flask api-clients retire {client.id}`"
    )


@api_clients_cli.command("retire")
@click.argument("client_id", type=int)
def retire(client_id):
    """End a client's previous key now: only the current key works after this (audited)."""
    client = _client(client_id)
    if client_admin.retire_key(None, client):
        click.echo(f"previous key of API client {client.id} ({client.name}) retired")
    else:
        click.echo(f"API client {client.id} ({client.name}) had no valid previous key")


@api_clients_cli.command("demo-key")
@click.option("--group", "group_slug", default="luxe", show_default=True)
def demo_key(group_slug):
    """A fresh key for the demo client (created on first use); earlier keys stop working."""
    try:
        key = clients.demo_key(group_slug)
    except (InvalidInput, NotFound) as error:
        raise click.ClickException(str(error)) from None
    click.echo(key)
