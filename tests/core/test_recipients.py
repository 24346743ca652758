"""Recipients in the core: terms are versioned and checked, and only recipients that could
read a person are asked to erase them."""

from datetime import date, timedelta

import pytest

from portal.core.integrations import clients, erasure_requests, recipients
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.transaction import commit_session
from tests.factories import brand

TERMS = ("Marketing only; erased when asked.", date(2025, 1, 15))


def test_terms_are_versioned_never_edited(demo):
    made, _ = clients.create("luxe", "CRM", ["consent:read"])
    assert not recipients.is_recipient(made)
    with commit_session():
        recipients.record_terms(made, "First terms.", date(2025, 1, 1), "cli")
        recipients.record_terms(made, "Second terms.", date(2025, 6, 1), "admin:1")
    versions = recipients.terms_of(made)
    assert [(t.version, t.text) for t in versions] == [(2, "Second terms."), (1, "First terms.")]
    assert made.terms_version == 2 and recipients.is_recipient(made)


@pytest.mark.parametrize(
    ("text", "day"),
    [("", date(2025, 1, 1)), ("x" * 2001, date(2025, 1, 1)), ("Terms.", None)],
)
def test_terms_need_a_text_and_a_date(demo, text, day):
    made, _ = clients.create("luxe", "CRM", ["consent:read"])
    with pytest.raises(InvalidInput), commit_session():
        recipients.record_terms(made, text, day, "cli")
    tomorrow = clock.now().date() + timedelta(days=1)
    with pytest.raises(InvalidInput), commit_session():
        recipients.record_terms(made, "Terms.", tomorrow, "cli")
    assert recipients.terms_of(made) == []


def test_only_live_recipients_that_could_read_the_person_are_asked(demo):
    group_wide, _ = clients.create("luxe", "CRM", ["consent:read"], terms=TERMS)
    camille, _ = clients.create("luxe", "Camille", ["consent:read"], ["camille"], terms=TERMS)
    clients.create("luxe", "Vespera", ["consent:read"], ["vespera"], terms=TERMS)
    clients.create("luxe", "No terms", ["consent:read"])
    revoked, _ = clients.create("luxe", "Old", ["consent:read"], terms=TERMS)
    clients.revoke(revoked.id)
    names = lambda brands: [c.name for c in recipients.reading(demo.id, brands)]  # noqa: E731
    assert names({brand("camille").id}) == ["CRM", "Camille"]
    assert names(set()) == ["CRM"]  # someone with no consent anywhere: group-wide clients only
    assert group_wide.id != camille.id


def test_an_answer_must_be_done_or_not_held(demo):
    made, _ = clients.create("luxe", "CRM", ["consent:read"], terms=TERMS)
    with pytest.raises(InvalidInput):
        erasure_requests.acknowledge(made, "x", "maybe", None)
    with pytest.raises(InvalidInput):
        erasure_requests.acknowledge(made, "x", "done", "r" * 201)
