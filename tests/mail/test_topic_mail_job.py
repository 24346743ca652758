"""`flask mail send-topic` says how many people it will mail, asks, and starts a job."""

from portal.core.kernel.models.job import Job
from tests.actions import deliver
from tests.factories import count, member


def _invoke(runner, tmp_path, *extra, input=None):
    body = tmp_path / "body.txt"
    body.write_text("Hello.\n\nSee you.")
    args = ["mail", "send-topic", "--brand", "camille", "--topic", "news", "--subject", "News"]
    return runner.invoke(args=[*args, "--body-file", str(body), *extra], input=input)


def test_send_topic_asks_before_mailing_and_the_job_sends(runner, demo, smtp, tmp_path):
    member("reader@example.com")
    refused = _invoke(runner, tmp_path, input="n\n")
    assert "This mails 1 people. Send?" in refused.output and refused.exit_code == 1
    assert count(Job) == 0
    started = _invoke(runner, tmp_path, input="y\n")
    assert started.exit_code == 0, started.output
    assert "started: 1 mails for camille/news" in started.output
    listed = runner.invoke(args=["jobs", "list"]).output
    assert "mail.topic queued: done 0, failed 0, left 1 of 1 (by cli)" in listed
    assert smtp.messages == []  # the command only started the job
    assert runner.invoke(args=["jobs", "run"]).output.startswith("1 batches run")
    assert (
        "mail.topic done: done 1, failed 0, left 0 of 1"
        in runner.invoke(args=["jobs", "list"]).output
    )
    deliver()
    [mail] = smtp.to("reader@example.com")
    assert mail["Subject"] == "News"


def test_send_topic_refuses_an_overlong_subject(runner, demo, tmp_path):
    body = tmp_path / "body.txt"
    body.write_text("Hello.")
    args = ["mail", "send-topic", "--yes", "--brand", "camille", "--topic", "news"]
    result = runner.invoke(args=[*args, "--subject", "x" * 201, "--body-file", str(body)])
    assert result.exit_code == 1 and "200 characters at most" in result.output
    assert count(Job) == 0
