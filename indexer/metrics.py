"""Prometheus histograms of the indexing pipeline's two stages.

Push-to-searchable is the sum of the receiver, the indexer stage (fetching
what a batch of events names, writing its documents) and the follower
stage (one index commit): these say which stage a slow push waited in.
They live in the default ``prometheus_client`` registry, like the
receiver's counters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import Gauge, Histogram

log = logging.getLogger(__name__)

_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A stage this slow delays every push behind it past the 2 s freshness goal: say so in the log.
SLOW_S = 1.0

INDEXER_BATCH = Histogram(
    "regsearch_indexer_batch_seconds",
    "Time to fetch and write the documents of one batch of events.",
    buckets=_BUCKETS,
)
INDEX_COMMIT = Histogram(
    "regsearch_index_commit_seconds",
    "Time to apply one batch of document changes to the search index.",
    buckets=_BUCKETS,
)

_HISTOGRAMS = {"indexer_batch": INDEXER_BATCH, "index_commit": INDEX_COMMIT}
# Labelled, so that a process without a follower (webhooks, indexer) exports no sample at all.
INDEX_SETTLED = Gauge(
    "regsearch_index_settled",
    "1 while the follower is idle with nothing left to merge; 0 while it applies or compacts.",
    ["index"],
)


_report: Callable[[str, float], None] | None = None


def report_to(sink: Callable[[str, float], None]) -> None:
    """Hand every later :func:`record` to ``sink`` instead (a follower process reports to its parent)."""
    global _report
    _report = sink


def record(name: str, value: float) -> None:
    """Observe ``value`` in the metric ``name`` (``indexer_batch``, ``index_commit``, ``index_settled``)."""
    if _report is not None:
        _report(name, value)
    elif name == "index_settled":
        INDEX_SETTLED.labels(index="search").set(value)
    else:
        _HISTOGRAMS[name].observe(value)


@contextmanager
def timed(name: str, what: str, records: int) -> Iterator[None]:
    """:func:`record` the block's duration as ``name``; log it when it is slower than :data:`SLOW_S`."""
    began = time.monotonic()
    try:
        yield
    finally:
        elapsed = time.monotonic() - began
        record(name, elapsed)
        if elapsed > SLOW_S:
            log.warning("%s of %d records took %.1f s", what, records, elapsed)
