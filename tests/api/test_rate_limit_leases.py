"""API clients' limits are counted in leases taken from the shared storage (extensions._Leases):
a process spends a lease locally, so most requests cost no Redis round trip, and the limit
still holds across every process and instance sharing the storage."""

import itertools
import uuid

import pytest
from limits import parse
from limits.storage import storage_from_string

from portal.extensions import LEASED, KnownWindow, _Leases


@pytest.fixture(params=["memory://", "redis://127.0.0.1:6379"])
def storage(request):
    storage = storage_from_string(request.param, key_prefix=f"test-lease-{uuid.uuid4().hex}")
    yield storage
    storage.reset()


def counted(storage) -> list[str]:
    """The increments the storage is asked for, by name of key."""
    asked = []
    increment = storage.incr
    storage.incr = lambda key, *args, **kwargs: asked.append(key) or increment(key, *args, **kwargs)
    return asked


def test_two_instances_never_admit_more_than_the_limit_together(storage):
    item = parse("1000 per minute")
    one, other = KnownWindow(storage), KnownWindow(storage)  # two processes, one Redis
    client = f"{LEASED}7"
    admitted = [(one if n % 3 else other).hit(item, client, "api") for n in range(3000)].count(True)
    # Never more than the limit; fewer by at most what each process's last lease left unspent.
    assert 1000 - 2 * _Leases.MOST <= admitted <= 1000
    assert not one.hit(item, client, "api") and not other.hit(item, client, "api")


def test_a_client_far_below_its_limit_costs_one_round_trip_per_lease(storage):
    item = parse("100000 per minute")
    window = KnownWindow(storage)
    asked = counted(storage)
    assert all(window.hit(item, f"{LEASED}8", "api") for _ in range(640))
    assert len(asked) == 640 // _Leases.MOST


def test_a_small_limit_counts_one_by_one_across_instances(storage):
    item = parse("3 per minute")
    one, other = KnownWindow(storage), KnownWindow(storage)
    turns = itertools.cycle([one, other])
    assert [next(turns).hit(item, f"{LEASED}9", "api") for _ in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_other_limits_still_ask_the_storage_on_every_hit(storage):
    item = parse("100000 per minute")
    window = KnownWindow(storage)
    asked = counted(storage)
    for _ in range(5):
        window.hit(item, "signup-address:abc", "signup-address")
    assert len(asked) == 5


def test_a_reset_forgets_the_leases(storage):
    item = parse("2 per minute")
    window = KnownWindow(storage)
    assert window.hit(item, f"{LEASED}10", "api") and window.hit(item, f"{LEASED}10", "api")
    assert not window.hit(item, f"{LEASED}10", "api")
    storage.reset()
    window.forget()
    assert window.hit(item, f"{LEASED}10", "api")
