"""The reconciler: repairs whatever a lost notification left wrong.

It walks ``/v2/_catalog`` and appends one ``sync`` event per repository it
finds or still has indexed. It decides nothing itself: the worker handling a
sync lists the repository's tags, compares each digest by HEAD and fetches
only what changed, and treats a repository as gone only when its own
``tags/list`` says so, never because one catalog walk skipped it.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Protocol

from indexer.retry import retrying
from indexer.policies import ReconcilePolicy, RetryPolicy
from indexer.state import IndexerState
from regsearch.logs import Log, Message
from webhooks.events import Event

log = logging.getLogger(__name__)


class Catalog(Protocol):
    """The part of the registry client the reconciler uses."""

    def catalog(self, page_size: int = 100) -> Iterable[str]: ...


def sync_events(catalog: Catalog, state: IndexerState, registry: str, page_size: int = 100) -> list[Event]:
    """One sync event per repository in the catalog or in the indexer's state."""
    found = set(catalog.catalog(page_size))
    known = state.repositories(registry)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        Event(str(uuid.uuid4()), "sync", registry, repository, timestamp=stamp)
        for repository in sorted(found | known)
    ]


def append_sync_events(events_log: Log, events: list[Event], chunk: int = 1000) -> None:
    """Append sync events in chunks, each durable on return."""
    for start in range(0, len(events), chunk):
        events_log.append([Message(e.key, e.to_json(), e.id) for e in events[start : start + chunk]])


class Reconciler:
    """Runs a reconciliation now (when asked) and then on a schedule."""

    def __init__(
        self,
        catalog: Catalog,
        state: IndexerState,
        events_log: Log,
        registry: str,
        *,
        policy: ReconcilePolicy = ReconcilePolicy(),
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self._catalog = catalog
        self._state = state
        self._events = events_log
        self._registry = registry
        self._policy = policy
        self._retry = retry

    def reconcile(self) -> int:
        """Walk the catalog once and append the sync events; returns their number."""
        events = sync_events(self._catalog, self._state, self._registry, self._policy.catalog_page_size)
        append_sync_events(self._events, events)
        log.info("reconciliation queued %d repositories of %s", len(events), self._registry)
        return len(events)

    def run(self, stop: threading.Event, run_now: Callable[[], bool]) -> None:
        """Reconcile at start when ``run_now()`` says so, then every interval."""
        due = run_now()
        while not stop.is_set():
            if due:
                for attempt in retrying(self._retry, stop, f"reconciling {self._registry}"):
                    with attempt:
                        self.reconcile()
            due = True
            stop.wait(self._policy.interval_s)
