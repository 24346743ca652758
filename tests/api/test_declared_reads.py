"""Which API operations only read and which may read from the replica is declared on each
operation (``reads_only``, ``may_lag``), never listed apart, so a new view cannot be left out
of either choice."""

import pytest

from portal import replica
from portal.api import contract

# The choices as they were when they were two lists (portal.api.READS and replica.LAGGING).
READS_ONLY = {
    "api.brands",
    "api.topics",
    "api.consent_texts",
    "api.lookup_by_id",
    "api.lookup_by_email",
    "api.lookup_by_external_id",
    "api.check",
    "api.events",
    "api.profile_of",
    "api.listing",
    "api.deliveries",
}
MAY_LAG = READS_ONLY - {"api.listing", "api.deliveries"}


def test_the_operations_declare_what_the_two_lists_said(app):
    declared = {
        endpoint: operation
        for endpoint, view in app.view_functions.items()
        if (operation := contract.of(view)) is not None
    }
    assert {endpoint for endpoint, op in declared.items() if op.reads_only} == READS_ONLY
    assert {endpoint for endpoint, op in declared.items() if op.may_lag} == MAY_LAG
    assert replica.lagging_endpoints(app) == replica.LAGGING | MAY_LAG


def test_an_operation_that_does_not_declare_both_is_refused():
    minimal = dict(operation_id="x", summary="x", scope=contract.ANY_KEY, ok="x", example={})
    with pytest.raises(TypeError, match="declare reads_only and may_lag"):
        contract.operation(**minimal, reads_only=True)
    with pytest.raises(TypeError, match="never reads_only"):
        contract.operation(**minimal, reads_only=True, may_lag=False, write=True)
