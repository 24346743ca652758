"""The console's job pages, and the health of the worker and of mail."""

import re

from sqlalchemy import select, update

from portal.core.console.models import AuditEntry
from portal.core.kernel import heartbeat, jobs
from portal.core.mail.models import OutboxMessage
from portal.extensions import db
from tests.actions import deliver, log_in, post
from tests.factories import brand, brand_admin, count, make_admin, member, topic
from tests.smtp import text_of


def _owner(client, demo):
    owner = make_admin(demo, "owner", "boss@luxe.example")
    log_in(client, owner)
    return owner


def _ask_again(client, version="2026-09"):
    camille = brand("camille")
    form = {"policy_version": version, "ask_again": "1", "confirmed": "1"}
    return post(client, f"/admin/brands/{camille.id}/policy", form).headers["Location"]


def test_the_job_page_shows_progress_and_htmx_refreshes_it_until_done(app, client, demo):
    app.config["JOB_BATCH_SIZE"] = 2
    for n in range(3):
        member(f"fan{n}@example.com")
    _owner(client, demo)
    url = _ask_again(client)
    page = client.get(url).get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in page and 'http-equiv="refresh"' in page
    assert "Waiting for the worker" in page and '<progress id="job-bar" max="3" value="0"' in page
    jobs.work_once("w")
    part = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert part.lstrip().startswith('<div id="job-progress"') and "<html" not in part
    assert "<dt>Done</dt><dd>2</dd>" in part and "<dt>Left</dt><dd>1</dd>" in part
    jobs.work_once("w")
    over = client.get(url).get_data(as_text=True)
    assert "Finished" in over and "every 2s" not in over and "refresh" not in over
    assert "<dt>Done</dt><dd>3</dd>" in over and "<dt>Left</dt><dd>0</dd>" in over
    assert "Asking subscribers to confirm again" in client.get("/admin/jobs").get_data(as_text=True)


def test_a_job_is_seen_only_by_admins_of_its_brand(client, demo):
    member("fan@example.com")
    _owner(client, demo)
    url = _ask_again(client)
    client.post("/admin/logout")
    log_in(client, brand_admin(demo, "vespera", email="v@luxe.example"))
    assert client.get(url).status_code == 403
    assert client.get("/admin/jobs/999999").status_code == 404


def test_failures_are_listed_with_their_reason(client, demo):
    _owner(client, demo)
    member("fan@example.com")
    url = _ask_again(client)
    from portal.core.kernel.models.job import JobFailure

    job_id = int(url.rsplit("/", 1)[1])
    db.session.add(JobFailure(job_id=job_id, item="17", reason="error: LockTimeout"))
    db.session.commit()
    page = client.get(url).get_data(as_text=True)
    assert "What failed" in page and "<td>17</td><td>error: LockTimeout</td>" in page


def test_owners_see_a_banner_when_no_worker_runs_or_mail_fails(client, demo):
    _owner(client, demo)
    assert "No worker is running." in client.get("/admin/").get_data(as_text=True)
    heartbeat.beat("w")
    assert "health-banner" not in client.get("/admin/").get_data(as_text=True)
    db.session.execute(update(OutboxMessage).values(attempts=1))
    member("fan@example.com")  # no mail yet: queue one and make it fail once
    from portal.core.mail import health

    health.send_test(demo.id, "boss@luxe.example", ("P", "p@luxe.example"), "en")
    db.session.execute(update(OutboxMessage).values(attempts=1, last_error="refused"))
    db.session.commit()
    page = client.get("/admin/").get_data(as_text=True)
    assert "Mail is failing." in page and "1 messages wait for a retry" in page


def test_the_mail_page_shows_delivery_and_sends_a_test_mail(client, demo, smtp):
    _owner(client, demo)
    heartbeat.beat("w")
    page = client.get("/admin/health").get_data(as_text=True)
    assert "going out" in page and "none yet" in page
    answer = post(client, "/admin/health/test-mail", {})
    assert answer.status_code == 302
    assert "A test mail to boss@luxe.example is queued" in client.get("/admin/health").get_data(
        as_text=True
    )
    deliver()
    [mail] = smtp.to("boss@luxe.example")
    assert mail["Subject"] == "Consent portal: test mail"
    assert "none yet" not in client.get("/admin/health").get_data(as_text=True)


def test_only_owners_see_the_mail_page(client, demo):
    log_in(client, brand_admin(demo, "camille", email="c@luxe.example"))
    assert client.get("/admin/health").status_code == 403
    assert "health-banner" not in client.get("/admin/").get_data(as_text=True)


def test_a_topic_mail_from_the_console_says_how_many_then_runs_as_a_job(client, demo, smtp):
    member("reader@example.com", keys=("news",))
    member("other@example.com", keys=("journal",))
    _owner(client, demo)
    news = topic("news")
    url = f"/admin/topics/{news.id}/mail"
    assert "Send a mail" in client.get(f"/admin/brands/{news.brand_id}/topics").get_data(
        as_text=True
    )
    empty = post(client, url, {"title": "", "body": ""})
    assert empty.status_code == 422 and "Enter a subject of one line" in empty.get_data(
        as_text=True
    )
    mail = {"title": "Winter collection", "body": "It is here.\n\nCome and see."}
    asked = post(client, url, mail).get_data(as_text=True)
    assert "This mails 1 person." in asked and "Mail 1 person" in asked
    deliver()
    assert smtp.messages == []  # nothing before the yes
    started = post(client, url, dict(mail, confirmed="1"))
    assert "/admin/jobs/" in started.headers["Location"]
    deliver()
    [sent] = smtp.to("reader@example.com")
    assert sent["Subject"] == "Winter collection" and "Come and see." in text_of(sent)
    assert "Finished" in client.get(started.headers["Location"]).get_data(as_text=True)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "topic.mail"))
    assert entry.after["recipients"] == 1 and entry.actor.startswith("admin:")


def test_a_topic_mail_confirmed_twice_mails_once(client, demo, smtp):
    member("reader@example.com", keys=("news",))
    _owner(client, demo)
    url = f"/admin/topics/{topic('news').id}/mail"
    asked = post(client, url, {"title": "Winter", "body": "It is here."}).get_data(as_text=True)
    key = re.search(r'name="start_key" value="([^"]+)"', asked).group(1)
    confirm = {"title": "Winter", "body": "It is here.", "confirmed": "1", "start_key": key}
    first, second = post(client, url, confirm), post(client, url, confirm)  # a double click
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    deliver()
    assert len(smtp.to("reader@example.com")) == 1
    assert count(AuditEntry, AuditEntry.action == "topic.mail") == 1
    forged = post(client, url, dict(confirm, start_key="<not a key>"))
    assert forged.status_code == 422
    page = forged.get_data(as_text=True)
    assert "This confirmation is not valid: confirm again." in page and 'name="start_key"' in page
    again = post(client, url, dict(confirm, start_key=jobs.new_key()))  # a new confirmation
    assert again.headers["Location"] != first.headers["Location"]


def test_the_console_sends_no_topic_mail_without_a_postal_address(client, demo, smtp):
    member("reader@example.com", keys=("news",))
    _owner(client, demo)
    news = topic("news")
    news.brand.postal_address = ""
    db.session.commit()
    url = f"/admin/topics/{news.id}/mail"
    page = client.get(url).get_data(as_text=True)
    assert "Camille has no postal address, and neither has its group" in page
    assert "Enter the postal address in the group settings" in page
    refused = post(client, url, {"title": "Winter", "body": "Here.", "confirmed": "1"})
    assert refused.status_code == 422
    deliver()
    assert smtp.messages == [] and "/admin/jobs/" not in refused.headers.get("Location", "")
    demo.postal_address = "LÜXE SA, 1 place Vendôme, 75001 Paris"
    db.session.commit()
    assert (
        "/admin/jobs/"
        in post(client, url, {"title": "Winter", "body": "Here.", "confirmed": "1"}).headers[
            "Location"
        ]
    )
