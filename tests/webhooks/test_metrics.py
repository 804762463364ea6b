"""The receiver's delivery-delay histogram: each event's age when it arrived."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from webhooks.metrics import EVENT_DELAY, observe_delays

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)


def observed() -> tuple[float, float]:
    """(count, sum) of ``EVENT_DELAY`` so far."""
    samples = {s.name: s.value for metric in EVENT_DELAY.collect() for s in metric.samples}
    return samples["regsearch_webhook_event_delay_seconds_count"], samples["regsearch_webhook_event_delay_seconds_sum"]


def test_each_event_age_is_observed_with_nanosecond_timestamps_and_offsets() -> None:
    count, total = observed()
    observe_delays(["2026-11-28T11:59:58.500000000Z", "2026-11-28T12:59:59.000000000+01:00"], now=NOW)
    new_count, new_total = observed()
    assert new_count - count == 2
    assert new_total - total == pytest.approx(2.5)


def test_unreadable_missing_or_naive_timestamps_are_skipped_and_skew_counts_as_zero() -> None:
    count, total = observed()
    observe_delays([None, "yesterday", "2026-11-28T11:59:00", "2026-11-28T12:00:05Z"], now=NOW)
    new_count, new_total = observed()
    assert new_count - count == 1
    assert new_total == total
