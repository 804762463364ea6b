"""``regsearch crawl``: one full reconciliation, then exit.

When no ``regsearch serve`` owns the data directory, the crawl indexes the
repositories itself. When one does, or with Kafka (where indexers run
elsewhere), the crawl only queues the sync events and follows the indexers'
progress, so the index keeps one writer.
"""

from __future__ import annotations

import logging
import time
from typing import IO

from tqdm import tqdm

from indexer.consumer import GROUP
from indexer.registry import RegistryError
from regsearch.config import Settings
from regsearch.resources import Resources, ServiceRunning, lock_data_dir
from regsearch.logs import Positions, behind

log = logging.getLogger("regsearch")

POLL_S = 0.2


def crawl(settings: Settings) -> int:
    """Reconcile every registry once; 0 when done, 1 when a registry could not be walked
    (the others are indexed all the same)."""
    resources = Resources.open(settings)
    try:
        lock = None if settings.kafka else try_lock(settings)
        queued, failed = 0, 0
        for registry, reconciler in zip(settings.registries, resources.reconcilers()):
            try:
                queued += reconciler.reconcile()
            except RegistryError as exc:
                log.error("cannot walk the catalog of %s (%s): %s", registry.name, registry.url, exc)
                failed += 1
        target = resources.events.end_offsets()
        with tqdm(total=queued, unit="repo", desc="crawling") as bar:
            if lock is None:
                follow_service(resources, target, bar)
            else:
                index_here(resources, target, bar)
                lock.close()
        return 1 if failed else 0
    finally:
        resources.close()


def try_lock(settings: Settings) -> IO[str] | None:
    """The data directory's lock, or None when a running service holds it."""
    try:
        return lock_data_dir(settings.data_dir)
    except ServiceRunning:
        return None


def index_here(resources: Resources, target: Positions, bar: tqdm) -> None:
    """Run the indexer and the follower in this process until ``target`` is applied."""
    resources.consumer().drain(target, progress=lambda n: bar.update(min(n, bar.total - bar.n)))
    resources.follower().catch_up()


def follow_service(resources: Resources, target: Positions, bar: tqdm) -> None:
    """Show the running service's progress through the queued events."""
    start = behind(resources.events.committed(GROUP), target)
    while remaining := behind(resources.events.committed(GROUP), target):
        bar.n = min(bar.total, max(0, start - remaining))
        bar.refresh()
        time.sleep(POLL_S)
    bar.n = bar.total
    bar.refresh()
