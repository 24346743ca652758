"""Command-line entry points: ``flask ledger``, ``flask outbox``, ``flask demo``."""

import signal
import sys
import threading

import click
from flask import Flask
from sqlalchemy import select

from portal.core import ledger, outbox
from portal.core.models import SiteGroup
from portal.extensions import db

ledger_cli = click.Group("ledger", help="The consent ledger's hash chain.")
outbox_cli = click.Group("outbox", help="Send queued mail.")
demo_cli = click.Group("demo", help="The demo site group.")


@ledger_cli.command("verify")
@click.option("--group", "slug", help="Only this site group (default: every group).")
def verify_ledger(slug):
    """Check every group's chain; exit 1 at the first entry where it breaks."""
    query = select(SiteGroup).order_by(SiteGroup.id)
    if slug:
        query = query.where(SiteGroup.slug == slug)
    groups = db.session.scalars(query).all()
    if slug and not groups:
        raise click.ClickException(f"no site group {slug!r}")
    broken = False
    for group in groups:
        checked, problem = ledger.verify(group.id)
        if problem is None:
            click.echo(f"{group.slug}: {checked} entries, chain intact")
        else:
            broken = True
            click.echo(
                f"{group.slug}: chain broken at entry {problem.seq} "
                f"(row id {problem.entry_id}): {problem.reason}; {checked} entries before it "
                "verified"
            )
    sys.exit(1 if broken else 0)


@outbox_cli.command("send")
def send_once():
    """Send everything due now, once."""
    result = outbox.send_all()
    click.echo(
        f"sent {result.sent}, to retry {result.retrying}, failed {result.failed}, "
        f"queued {outbox.backlog()}"
    )


@outbox_cli.command("work")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between polls.")
def work(interval):
    """Keep sending as mail arrives, until stopped (SIGTERM or Ctrl-C)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo("outbox worker started")
    try:
        while not stop.is_set():
            try:
                result = outbox.send_due()
            except Exception as error:  # noqa: BLE001 - a database hiccup must not end the worker
                db.session.rollback()
                click.echo(f"outbox pass failed: {type(error).__name__}", err=True)
                result = outbox.Pass()
            if result.handled:
                click.echo(
                    f"sent {result.sent}, to retry {result.retrying}, failed {result.failed}"
                )
            else:
                stop.wait(interval)
            db.session.remove()
    except KeyboardInterrupt:
        pass
    click.echo("outbox worker stopped")


@outbox_cli.command("retry")
def retry():
    """Give messages that failed every attempt another round."""
    click.echo(f"{outbox.retry_failed()} messages queued again")


@demo_cli.command("load")
def load_demo():
    """Load the demo group LÜXE and its seven houses (does nothing if already there)."""
    from portal.core.demo import load

    group, created = load()
    click.echo(
        f"{'created' if created else 'already present'}: {group.name} ({len(group.brands)} brands)"
    )


def register(app: Flask) -> None:
    from portal import admin_cli

    for group in (ledger_cli, outbox_cli, demo_cli):
        app.cli.add_command(group)
    admin_cli.register(app)
