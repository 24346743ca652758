"""The consent ledger: one hash chain per person, Merkle anchors, and `flask ledger verify`
naming the first entry where any of it breaks."""

import json

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from portal.core.consent import anchors, audit, ledger
from portal.core.consent.changes import Origin
from portal.core.consent.models import LedgerAnchor, LedgerEntry
from portal.core.people import erasure, subjects
from portal.extensions import db
from tests.actions import confirm, confirmation_link, deliver, sign_up
from tests.factories import legacy_anchor, member

KEY = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"  # RFC 8032, test 1
PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"


def _some_history(client, smtp):
    """Two people: one with 4 entries (asked twice, confirmed twice), one with 2."""
    for address in ("one@example.com", "two@example.com"):
        sign_up(client, address)
    deliver()
    confirm(client, confirmation_link(smtp.to("one@example.com")[0]))


def _chain_of(address: str, group_id: int) -> list[LedgerEntry]:
    subject = subjects.find(group_id, address)
    return list(
        db.session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.subject_id == subject.id)
            .order_by(LedgerEntry.chain_seq)
        )
    )


def _sql(statement: str, **params) -> None:
    db.session.execute(sa.text(statement), params)
    db.session.commit()


def _verify(runner, *args):
    result = runner.invoke(args=["ledger", "verify", "--jobs", "1", *args])
    return result.exit_code, result.output


def test_each_person_has_a_chain_of_their_own(client, runner, demo, smtp):
    _some_history(client, smtp)
    one, two = _chain_of("one@example.com", demo.id), _chain_of("two@example.com", demo.id)
    assert [e.chain_seq for e in one] == [1, 2, 3, 4] and [e.chain_seq for e in two] == [1, 2]
    assert len({e.chain for e in one}) == 1 and one[0].chain != two[0].chain
    assert [e.prev_hash for e in one] == ["", *[e.hash for e in one[:-1]]]
    assert _verify(runner) == (
        0,
        "6 entries in 2 chains, 0 anchors checked; 6 entries not sealed yet: ledger intact\n",
    )


def test_sealing_puts_every_entry_under_an_anchor_chained_to_the_last(client, runner, demo, smtp):
    _some_history(client, smtp)
    result = runner.invoke(args=["ledger", "seal"])
    assert result.output == "1 anchors written, 6 entries sealed\n"
    sign_up(client, "three@example.com")
    deliver()
    assert runner.invoke(args=["ledger", "seal"]).output == "1 anchors written, 2 entries sealed\n"
    assert runner.invoke(args=["ledger", "seal"]).output == "0 anchors written, 0 entries sealed\n"
    first, second = db.session.scalars(select(LedgerAnchor).order_by(LedgerAnchor.seq))
    assert (first.count, second.count, second.prev_hash) == (6, 2, first.hash)
    assert first.signature is None  # no LEDGER_SIGNING_KEY here
    assert _verify(runner)[1].startswith("8 entries in 3 chains, 2 anchors checked; 0 entries")


def test_an_edited_entry_is_named(client, runner, demo, smtp):
    _some_history(client, smtp)
    second = _chain_of("one@example.com", demo.id)[1]
    _sql("UPDATE ledger_entry SET action = 'withdrawn' WHERE id = :id", id=second.id)
    code, output = _verify(runner)
    assert code == 1
    named = f"chain {second.chain}, entry 2 (row id {second.id}): content was changed"
    assert f"first broken: {named}\n" in output


def test_an_entry_moved_to_another_person_is_caught(client, demo, smtp):
    _some_history(client, smtp)
    two = subjects.find(demo.id, "two@example.com")
    first = _chain_of("one@example.com", demo.id)[0]
    _sql("UPDATE ledger_entry SET subject_id = :two WHERE id = :id", two=two.id, id=first.id)
    found = audit.verify(demo.id).first
    assert (found.entry_id, found.position) == (first.id, 1)
    assert found.reason == "subject, IP, user agent or evidence was changed"


def test_a_personal_part_moved_from_another_entry_is_caught(client, demo, smtp):
    """The IP, user agent and evidence are encrypted: the digest still pins them to the entry."""
    _some_history(client, smtp)
    one = _chain_of("one@example.com", demo.id)
    _sql(
        "UPDATE ledger_entry SET personal = (SELECT personal FROM ledger_entry AS other "
        "WHERE other.id = :from_) WHERE id = :to",
        from_=one[0].id,
        to=one[1].id,
    )
    found = audit.verify(demo.id).first
    assert found.entry_id == one[1].id and "evidence" in found.reason


def test_a_deleted_entry_is_caught(client, demo, smtp):
    _some_history(client, smtp)
    one = _chain_of("one@example.com", demo.id)
    _sql("DELETE FROM ledger_entry WHERE id = :id", id=one[1].id)
    found = audit.verify(demo.id).first
    assert found.where == f"chain {one[0].chain}"
    assert (found.position, found.reason) == (2, "entry 2 is missing")


def test_an_entry_cut_from_the_end_of_a_chain_is_caught_once_sealed(client, runner, demo, smtp):
    _some_history(client, smtp)
    anchors.seal()
    last = _chain_of("one@example.com", demo.id)[-1]
    _sql("DELETE FROM ledger_entry WHERE id = :id", id=last.id)
    code, output = _verify(runner)
    assert code == 1
    assert f"anchor 1 of group {demo.id}, entry 0: 1 of its 6 entries (ids " in output


def test_anchors_cut_with_their_entries_are_caught_by_an_exported_anchor_file(
    client, runner, demo, smtp, tmp_path
):
    _some_history(client, smtp)
    anchors.seal()
    sign_up(client, "three@example.com")
    deliver()
    anchors.seal()
    exported = tmp_path / "anchors.json"
    assert (
        runner.invoke(args=["ledger", "anchors", "export", "--output", str(exported)]).exit_code
        == 0
    )
    assert [a["seq"] for a in json.loads(exported.read_text())["anchors"]] == [1, 2]
    # Whoever cuts the newest entry cuts its anchor too: the database alone looks whole.
    _sql(
        "UPDATE ledger_entry SET anchor_id = NULL "
        "WHERE anchor_id = (SELECT max(id) FROM ledger_anchor)"
    )
    _sql("DELETE FROM ledger_anchor WHERE seq = 2")
    _sql("DELETE FROM ledger_entry WHERE id = (SELECT max(id) FROM ledger_entry)")
    assert _verify(runner)[0] == 0
    code, output = _verify(runner, "--anchors", str(exported))
    assert code == 1
    assert (
        f"first broken: anchor 2 of group {demo.id}, entry 0: in the anchor file but gone "
        "from the database: cut off" in output
    )


def test_an_erased_persons_chain_still_verifies(client, demo, smtp):
    """Erasure drops the subject and personal parts; the chain (and its anchor) survive it."""
    _some_history(client, smtp)
    anchors.seal()
    erasure.erase(subjects.find(demo.id, "one@example.com"), "subject", Origin("api", "api:t"))
    anchors.seal()
    report = audit.verify(demo.id)
    assert report.breaks == [] and (report.entries, report.chains, report.anchors) == (8, 2, 2)


def test_an_anonymised_entry_attached_to_someone_else_is_named(client, demo, smtp):
    """Today's check skipped anonymised rows: such a row given to another person passed."""
    _some_history(client, smtp)
    two = subjects.find(demo.id, "two@example.com").id
    erasure.erase(subjects.find(demo.id, "one@example.com"), "subject", Origin("api", "api:t"))
    erased = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.erasure_id.is_not(None)).order_by(LedgerEntry.id)
    ).all()
    assert audit.verify(demo.id).breaks == []

    # The whole erased chain given to the other person, erasure id cleared: a person of their own.
    _sql(
        "UPDATE ledger_entry SET subject_id = :two, erasure_id = NULL WHERE erasure_id IS NOT NULL",
        two=two,
    )
    found = audit.verify(demo.id).first
    assert (found.entry_id, found.position) == (erased[0].id, 1)
    assert found.reason == "anonymised at an erasure and attached to another person"


def test_an_anonymised_entry_keeping_its_erasure_id_but_given_a_person_is_named(client, demo, smtp):
    _some_history(client, smtp)
    two = subjects.find(demo.id, "two@example.com").id
    erasure.erase(subjects.find(demo.id, "one@example.com"), "subject", Origin("api", "api:t"))
    third = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.erasure_id.is_not(None)).order_by(LedgerEntry.id)
    ).all()[2]
    _sql("UPDATE ledger_entry SET subject_id = :two WHERE id = :id", two=two, id=third.id)
    found = audit.verify(demo.id).first
    assert (found.entry_id, found.position) == (third.id, 3)
    assert found.reason == "is about someone other than the rest of its chain"


def test_anchors_are_signed_and_a_wrong_key_or_a_changed_anchor_is_named(
    app, client, runner, demo, smtp
):
    app.config["LEDGER_SIGNING_KEY"] = KEY
    _some_history(client, smtp)
    [anchor] = anchors.seal()
    assert anchor.public_key == PUBLIC and len(anchor.signature) == 128
    assert runner.invoke(args=["ledger", "anchors", "public-key"]).output == PUBLIC + "\n"
    assert _verify(runner, "--public-key", PUBLIC)[0] == 0
    other = anchors.new_key()[1]
    code, output = _verify(runner, "--public-key", other)
    assert (
        code == 1 and "anchor 1 of group" in output and "not signed by the ledger's key" in output
    )
    _sql("UPDATE ledger_anchor SET count = 5")
    assert "the anchor was changed" in _verify(runner)[1]


def test_verify_in_two_processes_finds_what_one_finds(client, demo, smtp):
    _some_history(client, smtp)
    anchors.seal()
    for address in ("three@example.com", "four@example.com", "five@example.com"):
        sign_up(client, address)
    deliver()
    one = audit.verify(jobs=1)
    two = audit.verify(jobs=2)
    assert two.breaks == [] and (two.entries, two.chains, two.anchors) == (
        one.entries,
        one.chains,
        one.anchors,
    ) == (12, 5, 1)
    tampered = _chain_of("four@example.com", demo.id)[0]
    _sql("UPDATE ledger_entry SET occurred_at = requested_at WHERE id = :id", id=tampered.id)
    assert audit.verify(jobs=2).first.entry_id == tampered.id


def test_entries_from_before_per_person_chains_verify_against_the_legacy_anchor(
    client, runner, demo, smtp
):
    """What the upgrade leaves: the old group chain, its head recorded as the first anchor."""
    _some_history(client, smtp)
    head, seq = "", 0
    for entry in db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all():
        seq += 1
        entry.chain, entry.chain_seq, entry.seq, entry.prev_hash = None, None, seq, head
        entry.hash = head = ledger.entry_hash(entry)
    legacy_anchor(demo.id, seq, head)
    db.session.commit()
    member("after@example.com")  # a new entry, in a chain of its own
    assert anchors.seal()[0].seq == 2
    report = audit.verify(demo.id)
    assert report.breaks == [] and (report.entries, report.chains, report.anchors) == (7, 2, 2)

    _sql("DELETE FROM ledger_entry WHERE seq = 6")
    code, output = _verify(runner)
    assert code == 1
    assert (
        "luxe's chain before the upgrade, entry 6: entries after this point are missing" in output
    )


def test_an_entry_must_be_about_a_person(app, demo):
    with pytest.raises(ValueError, match="about a person"):
        ledger.append(demo.id, subject_id=None, action="granted", source="api", actor="x")


def test_the_worker_seals_a_backlog_a_few_anchors_per_pass(app, client, demo, smtp, monkeypatch):
    """A backlog (the rows from before the upgrade) is sealed over several passes of the mail
    worker, never in one pass that would hold up the mail."""
    _some_history(client, smtp)
    app.config["LEDGER_SEAL_BATCH"] = 1
    monkeypatch.setattr(anchors, "PER_PASS", 4)
    assert [a.seq for a in anchors.seal_due(0)] == [1, 2, 3, 4]
    assert [a.seq for a in anchors.seal_due(0)] == [5, 6]
    assert anchors.seal_due(0) == []
    assert anchors.unsealed_count() == 0


def test_an_entry_moved_to_a_person_read_in_another_batch_is_named_once(
    client, demo, smtp, monkeypatch
):
    """Verify reads people a batch at a time (here one person per batch) and each chain whole:
    a chain's last entry given to someone read in another batch is still named, once, by the
    batch of the chain's first entry, and no entry is counted twice."""
    monkeypatch.setattr(audit, "PEOPLE_PER_QUERY", 1)
    _some_history(client, smtp)
    assert audit.verify(demo.id).breaks == []
    two = subjects.find(demo.id, "two@example.com")
    last = _chain_of("one@example.com", demo.id)[-1]
    _sql("UPDATE ledger_entry SET subject_id = :two WHERE id = :id", two=two.id, id=last.id)
    report = audit.verify(demo.id)
    assert (report.entries, report.chains) == (6, 2)
    assert [(b.entry_id, b.position, b.reason) for b in report.breaks] == [
        (last.id, 4, "is about someone other than the rest of its chain")
    ]


def test_anchors_are_checked_in_ranges_and_the_first_broken_one_is_named(
    app, client, demo, smtp, monkeypatch
):
    """Anchors are checked a few at a time (here one per part): the entries cut from under the
    second and the eleventh anchors are both found, and the second is named first."""
    monkeypatch.setattr(audit, "ANCHORS_PER_TASK", 1)
    app.config["LEDGER_SEAL_BATCH"] = 1
    _some_history(client, smtp)
    for n in range(5):
        sign_up(client, f"more{n}@example.com")
    deliver()
    sealed = anchors.seal()
    assert len(sealed) >= 11
    report = audit.verify(demo.id)
    assert report.breaks == [] and report.anchors == len(sealed)
    for anchor in (sealed[1], sealed[10]):
        _sql("UPDATE ledger_entry SET anchor_id = NULL WHERE anchor_id = :a", a=anchor.id)
    report = audit.verify(demo.id)
    assert [b.where for b in report.breaks] == [
        f"anchor 2 of group {demo.id}",
        f"anchor 11 of group {demo.id}",
    ]
    assert report.first.where == f"anchor 2 of group {demo.id}"
    assert report.first.reason.startswith("1 of its 1 entries (ids ")
