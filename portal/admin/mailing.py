"""Sending a topic mail from the console: write it, see how many people it will reach and
confirm, then follow the job that queues it."""

from flask import g, redirect, render_template, request, url_for

from portal.admin import blueprint, require, topic_or_404
from portal.admin.forms import TopicMailForm
from portal.core.kernel import jobs
from portal.core.kernel.errors import InvalidFields, Refused
from portal.core.mail import topic_mail
from portal.forms import refuse


@blueprint.route("/topics/<int:topic_id>/mail", methods=["GET", "POST"])
def topic_mail_new(topic_id: int):
    topic = topic_or_404(topic_id)
    require("manage_brand", topic.brand)
    form, confirm = TopicMailForm(), False
    try:
        topic_mail.check_sendable(topic.brand)
        unsendable = None
    except Refused as refused:  # no postal address to print: say where to enter it
        unsendable = refused.message
    if form.validate_on_submit() and unsendable is None:
        try:
            title, body = topic_mail.clean(form.title.data, form.body.data)
            confirm = True
            if form.confirmed.data == "1":
                key = form.start_key.data or None
                job = topic_mail.send_topic(topic, title, body, g.admin, key=key)
                return redirect(url_for("admin.job", job_id=job.id))
        except InvalidFields as refused:
            refuse(form, refused.errors)
    return render_template(
        "admin/topic_mail.html",
        topic=topic,
        brand=topic.brand,
        form=form,
        confirm=confirm,
        unsendable=unsendable,
        count=topic_mail.audience(topic) if confirm else None,
        # One key per confirmation shown: posting it twice sends once (see send_topic).
        start_key=jobs.new_key() if confirm else None,
    ), 422 if form.errors or (unsendable and request.method == "POST") else 200
