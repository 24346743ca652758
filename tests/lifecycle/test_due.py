"""Every rule starts from the people an index says may be due, and finds the same people as
asking everyone would."""

from dataclasses import replace
from datetime import timedelta

import pytest

from portal.core.consent.preferences import unsubscribe_all
from portal.core.kernel import clock
from portal.core.lifecycle import answers, run
from portal.core.lifecycle.rules import RULES
from portal.extensions import db
from tests.actions import decide, sign_up
from tests.factories import ORIGIN, PARIS, START, member


@pytest.fixture(autouse=True)
def start(app):
    clock.freeze(START)


def _found(group) -> dict[str, tuple[set[int], set[int]]]:
    """Per rule on now: (the people found from the index, the people found asking everyone)."""
    ctx = run._context(group)
    found = {}
    for rule in RULES:
        query = rule.candidates(ctx)
        if query is not None:
            everyone = rule.candidates(replace(ctx, everyone=True))
            found[rule.name] = (set(db.session.scalars(query)), set(db.session.scalars(everyone)))
    db.session.rollback()
    return found


def test_each_rule_finds_the_same_people_as_asking_everyone_over_three_years(client, demo):
    sign_up(client, "never@example.com")  # never confirmed
    decide()
    member("known@example.com", brand="vespera")
    sign_up(client, "known@example.com")  # a known person's request, left unconfirmed
    decide()
    member("fresh@example.com", postal=PARIS)  # an address to reconfirm
    member("quiet@example.com")  # asked again, never answers, lapses
    former = member("former@example.com")
    answers.set_relationship(former, "former_customer", ORIGIN)
    unsubscribe_all(former, ORIGIN)
    seen = set()
    for days in (0, 31, 200, 380, 560, 600, 740, 800, 1100):
        clock.freeze(START + timedelta(days=days))
        for name, (due, everyone) in _found(demo).items():
            assert due == everyone, (days, name)
            if due:
                seen.add(name)
        run.run(demo)
    # Every rule had someone to act on at some point: the comparison was never of nothing.
    assert seen == {rule.name for rule in RULES}
