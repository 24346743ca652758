"""The one source of "now" for the core, so tests can move time instead of sleeping."""

import zoneinfo
from datetime import UTC, datetime
from functools import cache

_frozen: datetime | None = None


def now() -> datetime:
    return _frozen if _frozen is not None else datetime.now(UTC)


def freeze(moment: datetime | None) -> None:
    """Pin the clock to ``moment`` (aware, UTC); ``None`` lets it run again."""
    global _frozen
    _frozen = moment


@cache
def time_zones() -> frozenset[str]:
    """The IANA time zone names this machine knows (its zoneinfo database): the only names a
    page accepts from a browser or an admin, never a path or a made-up name."""
    import pytz  # Flask-Babel converts with pytz: a zone must be known to both

    return frozenset(zoneinfo.available_timezones() & pytz.all_timezones_set)


def known_zone(name: str | None) -> bool:
    return bool(name) and name in time_zones()
