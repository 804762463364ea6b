"""Prometheus counters of the notification receiver.

They live in the default ``prometheus_client`` registry, so whatever serves
``/metrics`` for the process exposes them.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter

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
