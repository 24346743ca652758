"""Command-line entry points of the console: ``flask admins`` and ``flask import``."""

import secrets
import sys
from pathlib import Path

import click
from flask import current_app
from sqlalchemy import select

from portal.core.consent import imports
from portal.core.console import admins
from portal.core.kernel.errors import InvalidFields, InvalidInput
from portal.core.kernel.models.group import Brand, SiteGroup
from portal.extensions import db

admins_cli = click.Group("admins", help="Admin accounts of the console.")
import_cli = click.Group("import", help="Bring data in from another tool.")

DEMO_GROUP, DEMO_EMAIL = "luxe", "owner@luxe.example"


def _group(slug: str) -> SiteGroup:
    group = db.session.scalar(select(SiteGroup).where(SiteGroup.slug == slug))
    if group is None:
        raise click.ClickException(f"no site group {slug!r}")
    return group


@admins_cli.command("create-owner")
@click.option("--group", "slug", required=True, help="Slug of the site group.")
@click.option("--email", required=True, help="The owner's address (their login).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_owner(slug, email, password_stdin):
    """Make an owner of a group; they set up two-factor sign-in at their first login."""
    group = _group(slug)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        account = admins.create_owner(group, email, password)
    except InvalidInput as refused:
        raise click.ClickException(str(refused.message)) from None
    click.echo(f"owner {account.label} created for {group.slug}")


@admins_cli.command("ensure-demo")
def ensure_demo():
    """Create the demo owner once; prints the password only when it is created."""
    group = _group(DEMO_GROUP)
    if admins.find_by_email(DEMO_EMAIL) is not None:
        click.echo(f"  Console login:       {DEMO_EMAIL} (password printed when it was created)")
        return
    password = secrets.token_urlsafe(12)
    admins.create_owner(group, DEMO_EMAIL, password)
    click.echo(f"  Console login:       {DEMO_EMAIL} / {password}")
    click.echo("                       (set up two-factor sign-in at the first login)")


@import_cli.command("subscribers")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--brand", "slug", required=True, help="Slug of the brand.")
@click.option("--group", "group_slug", help="Slug of the site group (needed with several).")
@click.option("--dry-run", is_flag=True, help="Only report what would happen, line by line.")
@click.option("--reconfirm", is_flag=True, help="Mail a double opt-in request instead.")
def import_subscribers(file, slug, group_slug, dry_run, reconfirm):
    """Import a CSV (email, topic, channel, consented_at, source) into one brand.

    All or nothing: the accepted lines are written in one transaction.
    """
    query = select(Brand).where(Brand.slug == slug)
    if group_slug:
        query = query.where(Brand.group_id == _group(group_slug).id)
    found = db.session.scalars(query).all()
    if len(found) != 1:
        raise click.ClickException(
            f"no brand {slug!r}" if not found else f"several brands {slug!r}: give --group"
        )
    brand = found[0]
    with file.open(encoding="utf-8-sig", newline="") as handle:
        try:
            plan = imports.plan(brand, handle, reconfirm, current_app.config["LANGUAGES"])
        except (InvalidInput, InvalidFields) as refused:
            raise click.ClickException(str(refused)) from None
    for line in plan.refused:
        click.echo(f"line {line.number}: refused: {line.reason}")
    if plan.ignored_columns:
        click.echo(f"columns not imported: {', '.join(plan.ignored_columns)}")
    click.echo(f"{len(plan.accepted)} lines accepted, {len(plan.refused)} refused")
    if dry_run:
        click.echo("dry run: nothing written")
        return
    with click.progressbar(length=len(plan.accepted), label="importing") as bar:
        outcome = imports.run(None, plan, file.name, progress=bar.update)
    click.echo(
        f"imported {outcome.imported} consents, {outcome.new_subjects} new subjects, "
        f"{outcome.asked} asked to confirm"
    )


def register(app) -> None:
    for group in (admins_cli, import_cli):
        app.cli.add_command(group)
