"""`flask outbox work`: the loop sends mail, runs jobs' batches and writes a heartbeat."""

import os
import signal
import threading
import time

from portal.core.kernel import heartbeat
from portal.core.kernel.models.job import DONE, Job
from portal.core.mail import topic_mail
from portal.extensions import db
from tests.factories import member, topic


def test_the_worker_runs_jobs_sends_their_mail_and_says_it_is_alive(app, runner, demo, smtp):
    app.config["JOB_BATCH_SIZE"] = 1
    member("a@example.com")
    member("b@example.com")
    job_id = topic_mail.send_topic(topic("news"), "News", "Hello.").id
    seen = []

    def watch():
        """From another connection, as the console would: wait for the job to finish and its
        mail to go, then stop the worker as a supervisor does (SIGTERM)."""
        with app.app_context():
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                db.session.expire_all()
                if len(smtp.messages) >= 2 and db.session.get(Job, job_id).state == DONE:
                    break
                time.sleep(0.1)
            seen.append(heartbeat.last_seen())
            db.session.remove()
        os.kill(os.getpid(), signal.SIGTERM)

    default = signal.getsignal(signal.SIGTERM)
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = runner.invoke(args=["outbox", "work", "--interval", "0.1"])
    finally:
        watcher.join()
        signal.signal(signal.SIGTERM, default)
    assert "started" in result.output and "outbox worker stopped" in result.output
    assert sorted(m["To"] for m in smtp.messages) == ["a@example.com", "b@example.com"]
    assert seen[0] is not None  # the heartbeat, while it ran
    assert heartbeat.last_seen() is None  # removed when it stopped
    db.session.expire_all()
    assert db.session.get(Job, job_id).state == DONE
