"""Command-line entry points: ``flask ledger``, ``flask outbox``, ``flask demo``."""

import json
import os
import sys
import uuid
from datetime import UTC

import click
from flask import Flask, current_app
from sqlalchemy import select

from portal import workers
from portal.core.consent import anchors, audit
from portal.core.console import gauges
from portal.core.integrations import pinned, webhooks
from portal.core.integrations.models.api import WebhookDelivery
from portal.core.kernel import jobs, leases
from portal.core.kernel.models.group import SiteGroup
from portal.core.mail import outbox
from portal.core.mail.models import AddressRequest, OutboxMessage
from portal.extensions import db

ledger_cli = click.Group("ledger", help="The consent ledger: chains, anchors, verification.")
outbox_cli = click.Group("outbox", help="Send queued mail.")
webhooks_cli = click.Group("webhooks", help="Deliver webhooks; test, redeliver.")
demo_cli = click.Group("demo", help="The demo site group.")
keys_cli = click.Group("keys", help="Encryption keys of personal data.")
mail_cli = click.Group("mail", help="Topic mails to the people who asked for them.")
jobs_cli = click.Group("jobs", help="Long work the worker does in batches.")
lifecycle_cli = click.Group("lifecycle", help="Freshness, re-permission and retention rules.")
erasures_cli = click.Group("erasures", help="Erasure requests sent to recipients of data.")


def _groups(slug: str | None) -> list[SiteGroup]:
    """The group named by ``--group``, or every group; a clear error for an unknown slug."""
    query = select(SiteGroup).order_by(SiteGroup.id)
    if slug:
        query = query.where(SiteGroup.slug == slug)
    groups = db.session.scalars(query).all()
    if slug and not groups:
        raise click.ClickException(f"no site group {slug!r}")
    return groups


@ledger_cli.command("verify")
@click.option("--group", "slug", help="Only this site group (default: every group).")
@click.option(
    "--anchors",
    "anchor_file",
    type=click.Path(exists=True, dir_okay=False),
    help="An anchor file exported earlier (flask ledger anchors export): every anchor in it "
    "must still be in the database, unchanged.",
)
@click.option(
    "--public-key",
    help="Check every anchor's signature with this Ed25519 public key (hex); default: the "
    "public key of LEDGER_SIGNING_KEY when set.",
)
@click.option(
    "--jobs", type=int, default=None, help="Processes checking at once (default: every core)."
)
def verify_ledger(slug, anchor_file, public_key, jobs):
    """Check every person's chain, the chains from before the upgrade and every anchor; exit
    1 naming the first broken entry."""
    group_id = _groups(slug)[0].id if slug else None
    document = audit.read_anchor_file(anchor_file) if anchor_file else None
    report = audit.verify(
        group_id,
        jobs=jobs or os.cpu_count() or 1,
        public_key=public_key or anchors.public_key_hex(),
        anchor_file=document,
    )
    checked = (
        f"{report.entries} entries in {report.chains} chains, {report.anchors} anchors "
        f"checked; {anchors.unsealed_count()} entries not sealed yet"
    )
    if not report.breaks:
        click.echo(f"{checked}: ledger intact")
        sys.exit(0)
    click.echo(f"{checked}: {len(report.breaks)} broken")
    click.echo(f"first broken: {report.first}")
    for found in report.breaks[:20]:
        click.echo(f"  {found}")
    sys.exit(1)


@ledger_cli.command("seal")
def seal_ledger():
    """Seal the entries written since the last anchor (the worker and `flask lifecycle run`
    also do it)."""
    written = anchors.seal()
    entries = sum(anchor.count for anchor in written)
    click.echo(f"{len(written)} anchors written, {entries} entries sealed")


@ledger_cli.command("keygen")
def ledger_keygen():
    """A new Ed25519 key to sign anchors: the private key goes in LEDGER_SIGNING_KEY (kept
    outside the database), the public key to whoever checks the anchors."""
    private, public = anchors.new_key()
    click.echo(f"LEDGER_SIGNING_KEY={private}")
    click.echo(f"public key: {public}")


anchors_cli = click.Group("anchors", help="The ledger's Merkle anchors.")
ledger_cli.add_command(anchors_cli)


@anchors_cli.command("export")
@click.option("--group", "slug", help="Only this site group (default: every group).")
@click.option("--output", type=click.File("w"), default="-", help="File (default: stdout).")
def export_anchors(slug, output):
    """Every anchor as JSON, to keep outside the portal (and give to `ledger verify --anchors`)."""
    group_id = _groups(slug)[0].id if slug else None
    json.dump(anchors.export(group_id), output, indent=1)
    output.write("\n")


@anchors_cli.command("public-key")
def anchors_public_key():
    """The public key that checks the anchors' signatures (from LEDGER_SIGNING_KEY)."""
    public = anchors.public_key_hex()
    if public is None:
        raise click.ClickException("LEDGER_SIGNING_KEY is not set: anchors are not signed")
    click.echo(public)


@outbox_cli.command("send")
def send_once():
    """Send every mail due now, once."""
    result = outbox.send_all()
    click.echo(
        f"sent {result.sent}, to retry {result.retrying}, failed {result.failed}, "
        f"queued {outbox.backlog()}; address requests decided {result.decided}"
    )


@outbox_cli.command("work")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between polls.")
def work(interval):
    """Keep sending mail and running jobs' batches until stopped (SIGTERM or Ctrl-C), sealing
    the ledger every LEDGER_SEAL_SECONDS; writes a heartbeat on every pass. Webhooks have
    their own worker: `flask webhooks work`."""
    worker = uuid.uuid4().hex

    def one_pass(stop):
        result = outbox.send_due(owner=worker, stopping=stop)
        batch = False if stop() else jobs.work_once(worker)
        jobs.drop_expired_holds()
        gauges.refresh_due(current_app.config["METRICS_INTERVAL_SECONDS"])
        anchors.seal_due(current_app.config["LEDGER_SEAL_SECONDS"])
        if result.handled:
            click.echo(
                f"decided {result.decided}, sent {result.sent}, "
                f"to retry {result.retrying}, failed {result.failed}"
            )
        return result.handled, batch

    def release():
        leases.release(OutboxMessage, worker)
        leases.release(AddressRequest, worker)
        jobs.release_leases(worker)

    workers.run("outbox worker", worker, "mail", one_pass, release, interval)


@webhooks_cli.command("send")
def deliver_once():
    """Deliver every webhook due now, once."""
    hooks = webhooks.deliver_all()
    click.echo(
        f"webhooks: delivered {hooks.sent}, to retry {hooks.retrying}, failed {hooks.failed}"
    )


@webhooks_cli.command("work")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polls.")
@click.option("--batch", default=50, show_default=True, help="Deliveries claimed per pass.")
def work_webhooks(interval, batch):
    """Keep delivering webhooks until stopped (SIGTERM or Ctrl-C), apart from the mail worker,
    through one pool of kept-alive connections; writes a heartbeat on every pass."""
    worker = uuid.uuid4().hex

    def one_pass(stop):
        result = webhooks.deliver_due(batch, owner=worker, stopping=stop)
        if result.handled:
            click.echo(
                f"delivered {result.sent}, to retry {result.retrying}, failed {result.failed}"
            )
        return result.handled, result.handled > 0  # a delivery may free a person's next

    def release():
        leases.release(WebhookDelivery, worker)
        pinned.close()

    workers.run("webhook worker", worker, "webhooks", one_pass, release, interval)


@webhooks_cli.command("redeliver")
@click.option("--delivery", "delivery_id", type=int, help="One failed delivery, by id.")
@click.option("--endpoint", "endpoint_id", type=int, help="Every failed delivery of an endpoint")
@click.option("--since", type=click.DateTime(), help="... made since this time (UTC).")
def redeliver(delivery_id, endpoint_id, since):
    """Give failed deliveries a fresh set of attempts: one (--delivery ID) or every one of an
    endpoint made since a time (--endpoint ID --since 2026-12-01T09:00); audited."""
    from portal.core.console import client_admin
    from portal.core.integrations.models.api import WebhookEndpoint
    from portal.core.kernel.errors import InvalidFields, NotFound

    if (delivery_id is None) == (endpoint_id is None) or (endpoint_id is None) != (since is None):
        raise click.UsageError("give --delivery ID, or --endpoint ID with --since TIME")
    if delivery_id is not None:
        delivery = db.session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            raise click.ClickException(f"no webhook delivery {delivery_id}")
        endpoint_id = delivery.endpoint_id
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise click.ClickException(f"no webhook endpoint {endpoint_id}")
    moment = since.replace(tzinfo=UTC) if since else None
    try:
        count = client_admin.redeliver(None, endpoint.client, endpoint.id, delivery_id, moment)
    except NotFound:
        raise click.ClickException(f"webhook endpoint {endpoint.id} is removed") from None
    except InvalidFields as refused:
        raise click.ClickException(" ".join(map(str, refused.errors.values()))) from None
    click.echo(f"{count} deliveries to {endpoint.url} queued again")


@outbox_cli.command("retry")
def retry():
    """Give messages that failed every attempt another round."""
    click.echo(f"{outbox.retry_failed()} messages queued again")


@demo_cli.command("load")
def load_demo():
    """Load the demo group LÜXE and its seven houses (does nothing if already there)."""
    from portal.core.console.demo import load

    group, created = load()
    click.echo(
        f"{'created' if created else 'already present'}: {group.name} ({len(group.brands)} brands)"
    )


@keys_cli.command("rotate")
@click.option("--batch", default=500, show_default=True, help="Rows per transaction.")
def rotate_keys(batch):
    """Re-encrypt under the current PORTAL_DATA_KEY (old keys in PORTAL_OLD_DATA_KEYS stay
    readable until this reports nothing left): each person's own key is only wrapped again,
    in the key store; the data under the data key itself (console, API clients, people not
    yet given a key) is rewritten."""
    from portal.core.kernel import rotation

    done = rotation.rotate(batch, progress=lambda table, n: click.echo(f"{table}: {n}"))
    click.echo(f"key store: {done.pop('subject_key')} people's keys wrapped under the new key")
    for table, count in done.items():
        click.echo(f"{table}: {count} rows re-encrypted")
    left = rotation.remaining()
    click.echo(
        "nothing left under an old key: PORTAL_OLD_DATA_KEYS can be emptied"
        if left == 0
        else f"{left} rows still under an old key: run again"
    )


@keys_cli.command("per-person")
@click.option("--batch", default=200, show_default=True, help="People per transaction.")
def per_person(batch):
    """Give each person made before per-person keys a key of their own and move their data
    under it (once, after upgrading; safe to run again, and while serving)."""
    from portal.core.people import key_migration

    done = key_migration.give_keys(batch, progress=lambda n: click.echo(f"{n} people moved"))
    click.echo(f"{done} people given a key of their own; {key_migration.waiting()} left")


@keys_cli.command("compact")
def compact_keys():
    """Rewrite the key store so no copy of a deleted key stays in its files (erasures do it
    themselves; this is for one that could not, say under a lock)."""
    from portal.core.kernel import subject_keys

    subject_keys.store().compact()
    click.echo("key store compacted")


@click.command("doctor")
def doctor():
    """Check configuration, database, migrations, SMTP and the worker."""
    from portal.ops.doctor import examine

    problems = examine()
    if not problems:
        click.echo("All good: configuration, database, migrations, mail server and worker.")
        return
    for problem in problems:
        click.echo(f"- {problem}")
    sys.exit(1)


@mail_cli.command("send-topic")
@click.option("--group", "group_slug", default="luxe", show_default=True, help="Site group slug.")
@click.option("--brand", "brand_slug", required=True, help="Brand slug, e.g. camille.")
@click.option("--topic", "key", required=True, help="Topic key, e.g. news.")
@click.option("--subject", "title", required=True, help="The mail's subject line.")
@click.option(
    "--body-file",
    type=click.File("r", encoding="utf-8"),
    required=True,
    help="Plain text body; blank lines separate paragraphs.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation of the count.")
def send_topic(group_slug, brand_slug, key, title, body_file, yes):
    """Mail everyone consenting to the topic by email: says how many and asks, then starts a
    job that the worker runs in batches."""
    from portal.core.kernel.errors import NotFound, Refused
    from portal.core.mail import topic_mail

    body = body_file.read()
    if not title.strip() or not body.strip() or "\n" in title or "\r" in title:
        raise click.ClickException("the subject must be one non-empty line and the body not empty")
    if len(title.strip()) > 200 or len(body.strip()) > 50_000:
        raise click.ClickException("the subject is 200 characters at most, the body 50,000")
    try:
        topic = topic_mail.find_topic(group_slug, brand_slug, key)
    except NotFound as missing:
        raise click.ClickException(str(missing)) from None
    try:
        topic_mail.check_sendable(topic.brand)  # before asking: no count for mail that cannot go
        count = topic_mail.audience(topic)
        if not yes:
            click.confirm(f"This mails {count} people. Send?", abort=True)
        job = topic_mail.send_topic(topic, title.strip(), body)
    except Refused as refused:
        raise click.ClickException(str(refused.message)) from None
    click.echo(
        f"job {job.id} started: {job.total} mails for {brand_slug}/{key}, queued by the worker "
        "in batches (`flask jobs list` shows its progress)"
    )


@lifecycle_cli.command("run")
@click.option("--dry-run", is_flag=True, help="Only say what each rule would do, with counts.")
@click.option("--batch", default=100, show_default=True, help="Subjects read per query.")
@click.option("--group", "slug", help="Only this site group (default: every group).")
def run_lifecycle(dry_run, batch, slug):
    """Apply every rule once (idempotent; safe from cron on several machines at once)."""
    from portal.core.lifecycle import run
    from portal.core.lifecycle.rules import RULES

    groups = _groups(slug)
    verbs = {rule.name: rule.verb for rule in RULES}
    for group in groups:
        counts = run.preview(group) if dry_run else run.run(group, batch=batch)
        for name, count in counts.items():
            if count is None:
                click.echo(f"{group.slug} {name}: off")
            elif dry_run:
                click.echo(f"{group.slug} {name}: would {verbs[name]} {count} subjects")
            else:
                click.echo(f"{group.slug} {name}: {verbs[name]} {count} subjects: done")
    if not dry_run:
        from portal.core.console import rollups

        for group in groups:
            rows = rollups.roll_up(group.id)
            click.echo(f"{group.slug} dashboard: {rows} daily figures of closed days written")
        pruned = rollups.prune()
        click.echo(f"daily figures older than DAILY_FIGURES_DAYS: deleted {pruned}")
        _resend(batch=None)
        from portal.core.integrations import idempotency

        purged = idempotency.purge()
        click.echo(f"idempotency records older than IDEMPOTENCY_HOURS: deleted {purged}")
        from portal.core.integrations import retention

        mails, mail_days_kept = outbox.rotate()  # PostgreSQL: whole days, before rows
        click.echo(f"mails sent before OUTBOX_KEEP_DAYS: deleted {mails + outbox.purge()}")
        days = retention.rotate()
        if db.engine.dialect.name == "postgresql":
            click.echo(
                f"partitions: {days.made} days made ahead,"
                f" {days.kept + mail_days_kept} past their time kept back"
            )
        events, deliveries = retention.purge()
        click.echo(f"events older than EVENT_RETENTION_DAYS: deleted {events + days.events}")
        click.echo(
            "webhook deliveries older than WEBHOOK_DELIVERY_RETENTION_DAYS: deleted "
            f"{deliveries + days.deliveries}"
        )
        from portal.core.kernel import subject_keys

        # The one-off keys of rows used since the last run (sign-up requests, mails, answers,
        # import files) are deleted already; rewriting their small table removes every copy.
        subject_keys.store().compact(people=False)
        click.echo("one-off keys of rows used or purged: key store rewritten")
        sealed = anchors.seal()
        entries = sum(anchor.count for anchor in sealed)
        click.echo(f"ledger: {entries} entries sealed in {len(sealed)} anchors")


def _resend(batch: int | None) -> None:
    from portal.core.integrations import erasure_requests

    sent = erasure_requests.resend_due(batch)
    click.echo(f"erasure requests unanswered past ERASURE_ANSWER_HOURS: sent again {sent}")


@erasures_cli.command("resend")
@click.option("--batch", type=int, help="Requests per transaction (ERASURE_RESEND_BATCH).")
def resend_erasures(batch):
    """Send again every erasure request left unanswered for ERASURE_ANSWER_HOURS (safe in
    parallel; `flask lifecycle run` does it too)."""
    _resend(batch)


@erasures_cli.command("reconcile")
def reconcile_erasures():
    """After restoring a backup of the data: erase completely everyone whose key is no longer
    in the key store (erased after the backup was taken); no mail is sent."""
    from portal.core.people import reconcile

    click.echo(f"{reconcile.reconcile()} people erased whose key was missing from the key store")


@jobs_cli.command("list")
@click.option("--limit", default=20, show_default=True)
def list_jobs(limit):
    """The latest jobs of every group, newest first, with their progress."""
    from portal.core.kernel.models.job import Job

    for job in db.session.scalars(select(Job).order_by(Job.id.desc()).limit(limit)):
        left = max(job.total - job.done - job.failed, 0)
        click.echo(
            f"{job.id} {job.kind} {job.state}: done {job.done}, failed {job.failed}, "
            f"left {left} of {job.total} (by {job.created_by})"
            + (f"; last error: {job.last_error}" if job.last_error else "")
        )


@jobs_cli.command("run")
def run_jobs():
    """Run every waiting job to its end in this process, batch after batch (the worker does
    this on its own; this is for a one-off run)."""
    click.echo(f"{jobs.run_all()} batches run")


def init_app(app: Flask) -> None:
    from portal import admin_cli
    from portal.api.commands import api_clients_cli

    for group in (
        ledger_cli,
        outbox_cli,
        webhooks_cli,
        demo_cli,
        keys_cli,
        mail_cli,
        api_clients_cli,
        lifecycle_cli,
        erasures_cli,
        jobs_cli,
        doctor,
    ):
        app.cli.add_command(group)
    admin_cli.init_app(app)
