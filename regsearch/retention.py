"""Keeping the embedded event log from growing without bound.

Kafka topics have their own retention; the SQLite event log keeps every
event until told otherwise. Once the indexer group has committed past an
event it is never read again, except by hand: it is kept
:data:`EVENT_RETENTION_S` for that (a week, as long as event ids are kept
for de-duplication), then dropped. The document log needs no pruning: it
is compacted, one record per document.
"""

from __future__ import annotations

import logging
import threading

from regsearch.logs.sqlite import SqliteLog

log = logging.getLogger(__name__)

EVENT_RETENTION_S = 7 * 24 * 3600.0
PRUNE_INTERVAL_S = 3600.0


def prune_consumed(events: SqliteLog, group: str, older_than_s: float | None = None) -> int:
    """Drop the events ``group`` has committed past that are older than ``older_than_s``
    (default :data:`EVENT_RETENTION_S`); how many went."""
    committed = events.committed(group).get(0, 0)
    return events.prune(committed, older_than_s=EVENT_RETENTION_S if older_than_s is None else older_than_s)


def prune_periodically(events: SqliteLog, group: str, stop: threading.Event,
                       interval_s: float = PRUNE_INTERVAL_S) -> None:
    """:func:`prune_consumed` now and every ``interval_s`` until ``stop`` is set."""
    while not stop.is_set():
        gone = prune_consumed(events, group)
        if gone:
            log.info("pruned %d consumed events older than %.0f days", gone, EVENT_RETENTION_S / 86400)
        stop.wait(interval_s)
