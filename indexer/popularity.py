"""Pull counts by day and by tag, and the 7- and 30-day totals built from them.

Each pull notification counts once for its repository, on the UTC day of its
timestamp, and for its tag when it names one (a pull by digest names none).
Days older than :data:`KEEP_DAYS` are dropped, so what is kept per
repository stays bounded: at most 30 days and one count per tag. The totals
are computed when a repository's document is rebuilt (on any push, delete
or pull of it), counting back from that moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from indexer.metadata import utc_timestamp

KEEP_DAYS = 30


@dataclass(frozen=True)
class PullHistory:
    """One repository's pulls per UTC day (``YYYY-MM-DD``, the last 30 only) and per tag (all time)."""

    days: Mapping[str, int] = field(default_factory=dict)
    tags: Mapping[str, int] = field(default_factory=dict)

    def plus(self, days: Mapping[str, int], tags: Mapping[str, int]) -> PullHistory:
        """This history with more pulls added."""
        return PullHistory(_added(self.days, days), _added(self.tags, tags))

    def within(self, today: str, length: int) -> int:
        """Pulls on the ``length`` days ending with ``today`` (``YYYY-MM-DD``)."""
        first = first_day(today, length)
        return sum(count for day, count in self.days.items() if first <= day <= today)


def first_day(today: str, length: int) -> str:
    """The first of the ``length`` days ending with ``today``; ``KEEP_DAYS`` is what is kept."""
    return (date.fromisoformat(today) - timedelta(days=length - 1)).isoformat()


def day_of(timestamp: str | None, fallback: str) -> str:
    """The UTC day of an ISO 8601 ``timestamp`` (the registry writes its own zone), else of ``fallback``."""
    for value in (timestamp, fallback):
        moment = utc_timestamp(value)
        if moment is not None:
            return moment[:10]
    raise ValueError(f"no day in {timestamp!r} or {fallback!r}")


def _added(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    total = dict(a)
    for key, count in b.items():
        total[key] = total.get(key, 0) + count
    return total
