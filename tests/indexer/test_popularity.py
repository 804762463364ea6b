"""Pull windows by UTC day (pure logic)."""

from __future__ import annotations

import pytest

from indexer.popularity import PullHistory, day_of, first_day


def test_windows_count_the_days_ending_with_today() -> None:
    history = PullHistory({"2026-11-28": 1, "2026-11-22": 2, "2026-11-21": 4, "2026-10-30": 8, "2026-10-29": 16})
    assert history.within("2026-11-28", 7) == 3
    assert history.within("2026-11-28", 30) == 15
    assert history.plus({"2026-11-28": 1}, {"latest": 2}).within("2026-11-28", 1) == 2
    assert first_day("2026-03-01", 2) == "2026-02-28"


def test_a_pull_counts_on_its_timestamps_utc_day_or_else_on_now() -> None:
    assert day_of("2026-11-28T23:59:59.5Z", "2026-01-01T00:00:00Z") == "2026-11-28"
    assert day_of("2026-11-29T00:30:00.000000001+01:00", "2026-01-01T00:00:00Z") == "2026-11-28"
    assert day_of(None, "2026-01-01T00:00:00Z") == "2026-01-01"
    assert day_of("garbage", "2026-01-01T00:00:00Z") == "2026-01-01"
    with pytest.raises(ValueError):
        day_of(None, "")
