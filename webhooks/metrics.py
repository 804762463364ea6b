"""Prometheus counters of the notification receiver.

They live in the default ``prometheus_client`` registry, so whatever serves
``/metrics`` for the process exposes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone

from prometheus_client import Counter, Histogram

EVENTS = Counter(
    "regsearch_webhook_events",
    "Registry notification events by what the receiver did with them.",
    ["outcome"],
)
REQUESTS = Counter(
    "regsearch_webhook_requests",
    "Requests to the notification endpoint by HTTP status.",
    ["status"],
)
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
REQUEST_SECONDS = Histogram(
    "regsearch_webhook_request_seconds",
    "Time to answer one notification request; the registry gives up after its endpoint timeout (1 s).",
    buckets=_BUCKETS,
)
EVENT_DELAY = Histogram(
    "regsearch_webhook_event_delay_seconds",
    "From an accepted event's timestamp to its arrival: how far behind the registry's notification queue is.",
    buckets=_BUCKETS,
)

# answer key -> outcome label; the answer dict is the one receive() returns.
_OUTCOMES = {
    "accepted": "accepted",
    "dead_lettered": "dead_lettered",
    "dropped": "dropped",
    "duplicates": "duplicate",
}


def count_answer(answer: Mapping[str, object]) -> None:
    """Add the event counts of one receiver answer to ``EVENTS``."""
    for key, outcome in _OUTCOMES.items():
        value = answer.get(key)
        if isinstance(value, int) and value:
            EVENTS.labels(outcome=outcome).inc(value)


def count_request(status: int) -> None:
    """Count one answered request by its status code."""
    REQUESTS.labels(status=str(status)).inc()


def observe_delays(timestamps: Iterable[str | None], now: datetime | None = None) -> None:
    """Add each event's age (``now`` minus its RFC 3339 ``timestamp``) to ``EVENT_DELAY``.

    Events without a readable timestamp are skipped; a negative age (clock
    skew between registry and receiver) counts as zero.
    """
    now = now or datetime.now(timezone.utc)
    for timestamp in timestamps:
        try:
            sent = datetime.fromisoformat(timestamp or "")
        except ValueError:
            continue
        if sent.tzinfo is not None:
            EVENT_DELAY.observe(max(0.0, (now - sent).total_seconds()))
