"""Jobs the worker runs for the console (asking again, topic mails, imports): their progress
page, which htmx refreshes every two seconds (and a plain refresh does without JavaScript);
and the health of mail delivery and the worker."""

from email.utils import parseaddr

from flask import abort, current_app, flash, g, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from portal.admin import blueprint, require
from portal.core.console import admins
from portal.core.kernel import jobs
from portal.core.kernel.models.group import Brand
from portal.core.kernel.models.job import DONE, FAILED, HELD, Job
from portal.core.mail import health
from portal.extensions import db, htmx

# The permission a job's page asks for, by kind: who may start it may follow it.
_ACTION = {
    "policy.ask_again": "manage_brand",
    "mail.topic": "manage_brand",
    "import": "import",
    "lifecycle.preview": "view_rules",
}


def _visible(job: Job) -> bool:
    brand = db.session.get(Brand, job.brand_id) if job.brand_id else None
    return admins.can(g.admin, _ACTION.get(job.kind, "manage_admins"), brand)


def job_or_404(job_id: int) -> Job:
    job = db.session.get(Job, job_id)
    if job is None or job.group_id != g.admin.group_id or job.state == HELD:
        abort(404)
    if not _visible(job):
        abort(403)
    return job


@blueprint.get("/jobs")
def job_list():
    if not (admins.can(g.admin, "manage_brand") or admins.can(g.admin, "import")):
        abort(403)
    listed = [job for job in jobs.recent(g.admin.group_id, 50) if _visible(job)]
    return render_template("admin/jobs.html", jobs=listed)


@blueprint.get("/jobs/<int:job_id>")
def job(job_id: int):
    job = job_or_404(job_id)
    context = {"job": job, "failures": jobs.failures(job), "over": job.state in (DONE, FAILED)}
    if htmx:
        return render_template("admin/_job.html", **context)
    return render_template("admin/job.html", **context)


@blueprint.get("/health")
def mail_health():
    require("manage_admins")
    return render_template("admin/health.html", state=health.state())


@blueprint.post("/health/test-mail")
def test_mail():
    require("manage_admins")
    sender = parseaddr(current_app.config["ADMIN_MAIL_SENDER"])
    health.send_test(g.admin.group_id, g.admin.email, sender, str(get_locale()))
    flash(_("A test mail to %(address)s is queued; the worker sends it.", address=g.admin.email))
    return redirect(url_for("admin.mail_health"))


@blueprint.app_context_processor
def health_banner():
    """Owners see a banner on every console page when the worker or mail is in trouble."""
    admin = g.get("admin")
    if admin is None or not admins.can(admin, "manage_admins"):
        return {}
    return {"portal_health": health.state()}
