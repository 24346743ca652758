"""The one source of "now" for the core, so tests can move time instead of sleeping."""

from datetime import UTC, datetime

_frozen: datetime | None = None


def now() -> datetime:
    return _frozen if _frozen is not None else datetime.now(UTC)


def freeze(moment: datetime | None) -> None:
    """Pin the clock to ``moment`` (aware, UTC); ``None`` lets it run again."""
    global _frozen
    _frozen = moment
