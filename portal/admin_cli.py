"""Command-line entry points of the console: ``flask admins`` and ``flask import``."""

import secrets
import sys
from pathlib import Path

import click
from flask import current_app
from sqlalchemy import select

from portal.core.consent import imports
from portal.core.console import admins, groups, recovery
from portal.core.kernel.errors import InvalidFields, InvalidInput
from portal.core.kernel.models.group import Brand, SiteGroup
from portal.extensions import db

admins_cli = click.Group("admins", help="Admin accounts of the console.")
groups_cli = click.Group("groups", help="Site groups: one per company.")
import_cli = click.Group("import", help="Bring data in from another tool.")

DEMO_GROUP, DEMO_EMAIL = "luxe", "owner@luxe.example"


def _group(slug: str) -> SiteGroup:
    group = db.session.scalar(select(SiteGroup).where(SiteGroup.slug == slug))
    if group is None:
        raise click.ClickException(
            f"no site group {slug!r}: make it with `flask groups create --slug {slug} ...`"
        )
    return group


def _refused(refused: InvalidFields) -> click.ClickException:
    """One line per refused value, named as the option that gave it."""
    lines = [f"--{field.replace('_', '-')}: {message}" for field, message in refused.errors.items()]
    return click.ClickException("\n".join(lines))


@groups_cli.command("create")
@click.option("--slug", required=True, help="Short name in addresses, like maison-ferrand.")
@click.option("--name", required=True, help="The company's name, as people see it.")
@click.option(
    "--languages", default="en", show_default=True, help="Languages offered, comma-separated."
)
@click.option("--default-language", default=None, help="Default: the first of --languages.")
def create_group(slug, name, languages, default_language):
    """Make a site group for a company: its brands, admins and people live in it."""
    codes = [code.strip() for code in languages.split(",")]
    try:
        group = groups.create(slug, name, codes, default_language or codes[0])
    except InvalidFields as refused:
        raise _refused(refused) from None
    base = current_app.config["PORTAL_BASE_URL"]
    click.echo(f"site group {group.slug} created: {group.name} ({', '.join(group.languages)})")
    click.echo(f"  its home page: {base}/{group.slug}/")
    click.echo(f"  next: flask admins create-owner --group {group.slug} --email YOU@EXAMPLE.COM")


@groups_cli.command("list")
def list_groups():
    """Every site group: slug, name, languages, brands, admins."""
    found = groups.all_groups()
    if not found:
        click.echo("no site group yet: make one with `flask groups create`")
    for group in found:
        click.echo(
            f"{group.slug}\t{group.name}\t{','.join(group.languages)} "
            f"(default {group.default_language})\t{len(group.brands)} brands"
        )


@groups_cli.command("rename")
@click.option("--group", "slug", required=True, help="Slug of the site group.")
@click.option("--name", required=True, help="The new name.")
def rename_group(slug, name):
    """Give a site group a new name (its slug, in every address, stays)."""
    group = _group(slug)
    try:
        groups.rename(group, name)
    except InvalidFields as refused:
        raise _refused(refused) from None
    click.echo(f"site group {group.slug} is now called {group.name}")


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


@admins_cli.command("reset-password")
@click.option("--email", required=True, help="The admin's address (their login).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--reset-two-factor", is_flag=True, help="Also turn off two-factor sign-in (a lost phone)."
)
def reset_password(email, password_stdin, reset_two_factor):
    """Set an admin's password (for an operator locked out of the console); every session of
    that admin ends. With --reset-two-factor an owner sets it up again at the next login."""
    account = admins.find_by_email(email)
    if account is None:
        raise click.ClickException(f"no admin with the address {email!r}")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        recovery.set_password(account, password, reset_two_factor)
    except InvalidInput as refused:
        raise click.ClickException(str(refused.message)) from None
    click.echo(f"password of {account.label} ({account.group.slug}) set; its sessions are ended")
    if reset_two_factor:
        click.echo("two-factor sign-in is off: an owner sets it up again at the next login")
    base = current_app.config["PORTAL_BASE_URL"]
    click.echo(f"sign in at {base}/admin/login")


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
    languages = current_app.config["LANGUAGES"]
    # Read as a stream, twice: the check (a report of every refused line, and the count for
    # the progress bar), then the run, 5,000 lines at a time in one transaction.
    with file.open(encoding="utf-8-sig", newline="") as handle:
        try:
            checked = imports.check(brand, handle, reconfirm, languages)
        except (InvalidInput, InvalidFields) as refused:
            raise click.ClickException(str(refused)) from None
        for number, reason in checked.refused:
            click.echo(f"line {number}: refused: {reason}")
        if checked.ignored_columns:
            click.echo(f"columns not imported: {', '.join(checked.ignored_columns)}")
        click.echo(f"{checked.accepted} lines accepted, {len(checked.refused)} refused")
        if dry_run:
            click.echo("dry run: nothing written")
            return
        handle.seek(0)
        with click.progressbar(length=checked.accepted, label="importing") as bar:
            outcome = imports.run_file(
                None,
                brand,
                handle,
                file.name,
                reconfirm,
                languages,
                known=checked.known,
                progress=bar.update,
            )
    click.echo(
        f"imported {outcome.imported} consents, {outcome.new_subjects} new subjects, "
        f"{outcome.asked} asked to confirm"
    )


def init_app(app) -> None:
    for group in (admins_cli, groups_cli, import_cli):
        app.cli.add_command(group)
