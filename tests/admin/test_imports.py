"""Importing subscribers from another tool: dry run with reasons, all-or-nothing run, the CLI
with its progress bar, and re-permission mails instead of imported consent."""

import io
import re

import pytest
from sqlalchemy import func, select

from portal.core.consent import audit, imports, ledger
from portal.core.consent.models import Consent, LedgerEntry
from portal.core.console.models import AuditEntry
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.actions import decide, deliver, log_in, post, sign_up
from tests.factories import brand, brand_admin
from tests.smtp import text_of

CSV = """email,topic,channel,consented_at,source,first_name
ann@example.com,news,email,2024-05-01T10:00:00Z,crm,Ann
not an address,news,email,2024-05-01T10:00:00Z,crm,
bob@example.com,unicorns,email,2024-05-01T10:00:00Z,crm,
bob@example.com,care,sms,2024-05-01T10:00:00Z,crm,
bob@example.com,news,email,yesterday,crm,
bob@example.com,news,email,2999-01-01T00:00:00Z,crm,
ANN@example.com,news,email,2024-05-02T10:00:00Z,shop,
bob@example.com,events,sms,2024-06-01T08:30:00+02:00,shop,Bob
pending@example.com,news,email,2024-05-01T10:00:00Z,crm,
"""


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_dry_run_reports_every_line_and_writes_nothing(client, demo, smtp):
    sign_up(client, "pending@example.com")  # already has a (pending) consent to news here
    decide()
    plan = imports.plan(brand("camille"), io.StringIO(CSV))
    outcome = {line.number: line.reason for line in plan.lines}
    assert outcome == {
        2: "",
        3: "bad address",
        4: "unknown topic",
        5: "channel not offered",
        6: "bad consent time",
        7: "bad consent time",
        8: "duplicate",
        9: "",
        10: "already recorded",
    }
    assert plan.ignored_columns == ["first_name"]
    assert _count(Consent) == 2


def test_a_run_imports_the_accepted_lines_with_their_original_times(client, demo, smtp):
    camille = brand("camille")
    outcome = imports.run(None, imports.plan(camille, io.StringIO(CSV)), "old-crm.csv")
    assert (outcome.imported, outcome.new_subjects) == (3, 3)
    rows = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.source == "import").order_by(LedgerEntry.id)
    ).all()
    assert [r.action for r in rows] == ["granted"] * 3
    assert rows[0].occurred_at.isoformat() == "2024-05-01T10:00:00+00:00"
    assert rows[1].occurred_at.isoformat() == "2024-06-01T06:30:00+00:00"  # +02:00 in the file
    assert rows[0].evidence == {"file": "old-crm.csv", "line": 2}
    # The original source is the file's free text about the person: under their key.
    assert ledger.personal_part(rows[0])["evidence"] == {"original_source": "crm"}
    assert audit.verify(demo.id).breaks == []
    subject = db.session.scalar(select(Subject).where(Subject.status == "active"))
    assert subject is not None
    again = imports.plan(brand("camille"), io.StringIO(CSV))
    assert [line.reason for line in again.lines if line.number in (2, 9)] == [
        "already recorded"
    ] * 2


def test_all_or_nothing(client, demo, monkeypatch):
    camille = brand("camille")
    plan = imports.plan(camille, io.StringIO(CSV))

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(imports.consent, "record_imported", broken)
    with pytest.raises(RuntimeError):
        imports.run(None, plan, "x.csv")
    assert (_count(Subject), _count(Consent), _count(LedgerEntry), _count(AuditEntry)) == (
        0,
        0,
        0,
        0,
    )


def test_the_command_line_with_dry_run_and_progress(runner, demo, tmp_path):
    source = tmp_path / "list.csv"
    source.write_text(CSV)
    dry = runner.invoke(
        args=["import", "subscribers", str(source), "--brand", "camille", "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output
    assert "line 3: refused: bad address" in dry.output and "dry run: nothing written" in dry.output
    assert _count(Consent) == 0
    real = runner.invoke(args=["import", "subscribers", str(source), "--brand", "camille"])
    assert real.exit_code == 0, real.output
    assert "imported 3 consents, 3 new subjects" in real.output
    missing = runner.invoke(args=["import", "subscribers", str(source), "--brand", "nope"])
    assert missing.exit_code != 0 and "no brand 'nope'" in missing.output


def _long_file(path):
    """130 lines (in batches of 50 below): a bad address on line 77, line 2 again on line 120,
    and the person of line 3 again on line 100 with another topic."""
    lines = ["email,topic,channel,consented_at,source"]
    for number in range(2, 132):
        address = {77: "not an address", 120: "person2@example.com"}.get(
            number, f"person{number}@example.com"
        )
        topic = "news"
        if number == 100:
            address, topic = "person3@example.com", "events"
        lines.append(f"{address},{topic},email,2024-05-01T10:00:00Z,crm")
    path.write_text("\n".join(lines) + "\n")


def test_the_command_line_reads_a_long_file_batch_by_batch(runner, demo, tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "BATCH", 50)  # 130 lines are three batches
    monkeypatch.setattr(imports, "WRITES", 20)
    source = tmp_path / "long.csv"
    _long_file(source)
    result = runner.invoke(args=["import", "subscribers", str(source), "--brand", "camille"])
    assert result.exit_code == 0, result.output
    assert "line 77: refused: bad address" in result.output
    assert "line 120: refused: duplicate" in result.output
    assert "128 lines accepted, 2 refused" in result.output
    assert "imported 128 consents, 127 new subjects" in result.output
    assert (_count(Subject), _count(Consent)) == (127, 128)
    assert audit.verify(demo.id).breaks == []
    lines = db.session.scalars(
        select(LedgerEntry.evidence).where(LedgerEntry.source == "import")
    ).all()
    assert sorted(evidence["line"] for evidence in lines) == [
        n for n in range(2, 132) if n not in (77, 120)
    ]


def test_a_long_file_is_still_all_or_nothing(runner, demo, tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "BATCH", 50)
    source = tmp_path / "long.csv"
    _long_file(source)
    written = imports.consent.record_imported
    calls = []

    def broken_in_the_third_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return written(*args, **kwargs)

    monkeypatch.setattr(imports.consent, "record_imported", broken_in_the_third_batch)
    result = runner.invoke(args=["import", "subscribers", str(source), "--brand", "camille"])
    assert result.exit_code != 0 and len(calls) == 3
    assert (_count(Subject), _count(Consent), _count(LedgerEntry), _count(AuditEntry)) == (
        0,
        0,
        0,
        0,
    )


def test_a_file_without_the_needed_columns_is_refused(demo):
    with pytest.raises(imports.InvalidInput):
        imports.plan(brand("camille"), io.StringIO("mail,what\nx@example.com,news\n"))


def test_reconfirm_sends_double_opt_in_mails_instead(client, demo, smtp):
    plan = imports.plan(brand("camille"), io.StringIO(CSV), reconfirm=True)
    outcome = imports.run(None, plan, "old.csv")
    # ann, bob (news by mail: no consent time is needed to ask) and pending
    assert outcome.imported == 0 and outcome.asked == 3
    assert {c.state for c in db.session.scalars(select(Consent))} == {"pending"}
    deliver()
    [mail] = smtp.to("ann@example.com")
    assert "Please confirm your subscription" in mail["Subject"]
    assert "/confirm/" in text_of(mail)


def test_the_upload_form(client, demo, smtp):
    log_in(client, brand_admin(demo, "camille"))
    camille = brand("camille")
    checked = post(
        client,
        "/admin/import",
        {"brand": camille.id, "mode": "check", "file": (io.BytesIO(CSV.encode()), "l.csv")},
        content_type="multipart/form-data",
    )
    page = checked.get_data(as_text=True)
    assert "Check only, nothing was written: 3 lines would be imported, 6 refused" in page
    assert "refused: unknown topic" in page
    assert _count(Consent) == 0
    held = re.search(r'name="held" value="(\d+)"', page).group(1)
    started = post(client, "/admin/import", {"mode": "run", "held": held})
    assert started.status_code == 302 and started.headers["Location"] == f"/admin/jobs/{held}"
    assert _count(Consent) == 0  # the worker imports, not the request
    deliver()
    done = client.get(started.headers["Location"]).get_data(as_text=True)
    assert "Finished" in done and "<dt>Done</dt><dd>3</dd>" in done
    assert "<dt>Failed</dt><dd>6</dd>" in done and "unknown topic" in done
    assert _count(Consent) == 3
    again = post(client, "/admin/import", {"mode": "run", "held": held})
    assert again.status_code == 404  # a held file starts once
    vespera = post(
        client,
        "/admin/import",
        {"brand": brand("vespera").id, "mode": "run", "file": (io.BytesIO(CSV.encode()), "l.csv")},
        content_type="multipart/form-data",
    )
    assert vespera.status_code == 403


def test_an_erased_address_is_refused_as_suppressed(client, demo, smtp):
    from portal.core.consent.changes import Origin
    from portal.core.people import erasure, subjects
    from tests.actions import confirm, confirmation_link

    sign_up(client, "erased@example.com")
    deliver()
    confirm(client, confirmation_link(smtp.to("erased@example.com")[0]))
    erasure.erase(
        subjects.find(demo.id, "erased@example.com"),
        "subject",
        Origin(source="preference_centre", actor="subject"),
    )
    csv_text = "email,topic,channel,consented_at\nErased@Example.com,news,email,2024-05-01\n"
    plan = imports.plan(brand("camille"), io.StringIO(csv_text))
    assert [line.reason for line in plan.lines] == [imports.SUPPRESSED]
    assert imports.run(None, plan, "old.csv").imported == 0
    assert _count(Subject) == 0


EXCEL_FR = (
    "email;topic;channel;consented_at;source\r\n"
    "zoe@example.com;news;email;2024-05-01T10:00:00Z;boutique Genève\r\n"
    "ann@example.com;news;email;2024-05-01T10:00:00Z;boutique\r\n"
).encode("cp1252")


def test_a_semicolon_file_from_excel_in_windows_1252_is_read(client, demo, smtp):
    log_in(client, brand_admin(demo, "camille"))
    checked = post(
        client,
        "/admin/import",
        {"brand": brand("camille").id, "mode": "check", "file": (io.BytesIO(EXCEL_FR), "fr.csv")},
        content_type="multipart/form-data",
    )
    page = checked.get_data(as_text=True)
    assert "2 lines would be imported, 0 refused" in page and "zoe@example.com" in page
    held = re.search(r'name="held" value="(\d+)"', page).group(1)
    post(client, "/admin/import", {"mode": "run", "held": held})
    deliver()
    assert _count(Consent) == 2
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.source == "import").limit(1))
    assert ledger.personal_part(entry)["evidence"]["original_source"] == "boutique Genève"


def test_asking_by_mail_says_how_many_it_mails_before_it_does(client, demo, smtp):
    log_in(client, brand_admin(demo, "camille"))
    checked = post(
        client,
        "/admin/import",
        {
            "brand": brand("camille").id,
            "mode": "check",
            "reconfirm": "1",
            "file": (
                io.BytesIO(
                    b"email,topic\nann@example.com,news\nann@example.com,care\n"
                    b"bob@example.com,news\n"
                ),
                "l.csv",
            ),
        },
        content_type="multipart/form-data",
    )
    page = checked.get_data(as_text=True)
    assert "This mails 2 people, asking them to confirm." in page
    deliver()
    assert smtp.messages == []  # nothing is sent before the admin confirms


def test_the_help_lists_every_column_and_the_template_downloads(client, demo):
    log_in(client, brand_admin(demo, "camille"))
    page = client.get("/admin/import").get_data(as_text=True)
    for column in imports.KNOWN:
        assert f"<code>{column}</code>" in page
    assert "required, unless asking by mail" in page
    template = client.get("/admin/import/template.csv")
    assert template.headers["Content-Type"].startswith("text/csv")
    header = template.get_data(as_text=True).splitlines()[0].split(",")
    assert set(header) == set(imports.KNOWN)


def test_a_large_file_is_imported_in_batches_with_each_refusal_kept(app, client, demo, smtp):
    app.config["JOB_BATCH_SIZE"] = 3
    lines = [f"p{n}@example.com,news,email,2024-05-01T10:00:00Z" for n in range(7)]
    lines.insert(4, "not-an-address,news,email,2024-05-01T10:00:00Z")
    content = ("email,topic,channel,consented_at\n" + "\n".join(lines) + "\n").encode()
    log_in(client, brand_admin(demo, "camille"))
    page = post(
        client,
        "/admin/import",
        {"brand": brand("camille").id, "mode": "check", "file": (io.BytesIO(content), "l.csv")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    held = re.search(r'name="held" value="(\d+)"', page).group(1)
    url = post(client, "/admin/import", {"mode": "run", "held": held}).headers["Location"]
    from portal.core.kernel import jobs

    assert jobs.work_once("w")
    first = client.get(url).get_data(as_text=True)
    assert "<dt>Done</dt><dd>3</dd>" in first and "<dt>Left</dt><dd>5</dd>" in first
    jobs.run_all("w")
    done = client.get(url).get_data(as_text=True)
    assert "<dt>Done</dt><dd>7</dd>" in done and "<dt>Failed</dt><dd>1</dd>" in done
    assert "<td>line 6</td><td>bad address</td>" in done
    assert _count(Consent) == 7
    from portal.core.kernel.models.job import Job

    assert db.session.get(Job, int(held)).payload is None  # the file is gone once imported
