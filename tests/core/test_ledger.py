"""The consent ledger's hash chain: intact after real changes, broken edits are caught."""

import sqlalchemy as sa
from sqlalchemy import select

from portal.core.consent import ledger
from portal.core.consent.models import LedgerEntry
from portal.extensions import db
from tests.actions import confirm, confirmation_link, deliver, sign_up


def _some_history(client, smtp):
    for address in ("one@example.com", "two@example.com"):
        sign_up(client, address)
    deliver()
    confirm(client, confirmation_link(smtp.to("one@example.com")[0]))


def test_chain_of_real_changes_verifies(client, runner, demo, smtp):
    _some_history(client, smtp)
    checked, problem = ledger.verify(demo.id)
    assert (checked, problem) == (6, None)
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0
    assert "luxe: 6 entries, chain intact" in result.output


def test_an_edited_entry_is_named(client, runner, demo, smtp):
    _some_history(client, smtp)
    third = db.session.scalar(select(LedgerEntry).where(LedgerEntry.seq == 3))
    db.session.execute(
        sa.text("UPDATE ledger_entry SET action = 'withdrawn' WHERE id = :id"), {"id": third.id}
    )
    db.session.commit()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert "chain broken at entry 3" in result.output
    assert "content was changed" in result.output
    assert "2 entries before it verified" in result.output


def test_a_changed_ip_or_subject_is_caught(client, demo, smtp):
    _some_history(client, smtp)
    db.session.execute(sa.text("UPDATE ledger_entry SET subject_id = subject_id + 1 WHERE seq = 2"))
    db.session.commit()
    _, problem = ledger.verify(demo.id)
    assert problem.seq == 2 and "IP" in problem.reason


def test_a_personal_part_moved_from_another_entry_is_caught(client, demo, smtp):
    """The IP, user agent and evidence are encrypted: the digest still pins them to the entry."""
    _some_history(client, smtp)
    db.session.execute(
        sa.text(
            "UPDATE ledger_entry SET personal = "
            "(SELECT personal FROM ledger_entry AS other WHERE other.seq = 1) WHERE seq = 2"
        )
    )
    db.session.commit()
    _, problem = ledger.verify(demo.id)
    assert problem.seq == 2 and "evidence" in problem.reason


def test_a_deleted_entry_is_caught(client, demo, smtp):
    _some_history(client, smtp)
    db.session.execute(sa.text("DELETE FROM ledger_entry WHERE seq = 4"))
    db.session.commit()
    _, problem = ledger.verify(demo.id)
    assert problem.seq == 4 and problem.reason == "entry 4 is missing"


def test_a_removed_last_entry_is_caught(client, demo, smtp):
    _some_history(client, smtp)
    db.session.execute(sa.text("DELETE FROM ledger_entry WHERE seq = 6"))
    db.session.commit()
    _, problem = ledger.verify(demo.id)
    assert problem.reason == "entries after this point are missing"


def test_an_anonymised_entry_still_verifies(client, demo, smtp):
    """Erasure drops subject, IP and user agent; the chain must survive it."""
    _some_history(client, smtp)
    db.session.execute(
        sa.text(
            "UPDATE ledger_entry SET subject_id = NULL, ip = NULL, user_agent = NULL, "
            "personal_salt = NULL, personal = NULL, erasure_id = 'e-1' WHERE seq IN (1, 3)"
        )
    )
    db.session.commit()
    assert ledger.verify(demo.id) == (6, None)
