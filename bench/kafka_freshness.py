"""Push-to-searchable latency through Kafka, and the same on the embedded mode, on a preloaded index.

The distributed stack is what the Helm chart deploys, one process per role:
registry ──notifies──▶ ``regsearch webhooks`` ──▶ Kafka ──▶ one
``regsearch indexer`` ──▶ Kafka ──▶ one ``regsearch search-api``. The
embedded stack is ``bench.stack``'s ``regsearch serve``. Both get the same
preload (``bench.query_latency.load_registry``) and the same paced pushes
and arrival poller (``bench.freshness``); only where the poller searches and
where the notification counters are read differ.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.corpus import Package
from bench.freshness import FreshnessPlan, measure_freshness
from bench.images import RegistryPusher, RepositorySpec
from bench.pipeline import wait_quiet, webhook_counters
from bench.query_latency import QueryPlan, bulk_specs, load_registry
from bench.stack import BenchStack, MeasuredService
from bench.stats import summary
from tests.support.registry import Notifications, RegistryProcess

TOKEN = "bench-kafka-token"


@dataclass(frozen=True)
class KafkaOptions:
    """Which cluster, which topics (``<prefix>.events`` ...) and how many partitions to create them with."""

    bootstrap: str
    prefix: str
    partitions: int = 4

    def args(self) -> list[str]:
        """The ``regsearch`` flags that put a process on this cluster and these topics."""
        return ["--kafka-bootstrap", self.bootstrap, "--topic-prefix", self.prefix,
                "--kafka-partitions", str(self.partitions)]


@dataclass(frozen=True)
class FreshnessRun:
    """A preload of ``preload_tags`` tags, then ``pushes`` at ``rate``/s, each a new repository."""

    preload_tags: int = 2000
    tags_per_repo: int = 5
    load_threads: int = 8
    index_timeout_s: float = 600.0
    freshness: FreshnessPlan = FreshnessPlan(pushes=300, rate=50.0, timeout_s=60.0)

    def query_plan(self) -> QueryPlan:
        """The preload as ``bench.query_latency`` describes loads (no queries are timed)."""
        return QueryPlan(tags=self.preload_tags, tags_per_repo=self.tags_per_repo, load_threads=self.load_threads,
                         index_timeout_s=self.index_timeout_s)


@dataclass
class KafkaBenchStack:
    """A registry notifying one webhooks process, one indexer and one search-api, all on one cluster."""

    registry: RegistryProcess
    webhooks: MeasuredService
    indexer: MeasuredService
    search_api: MeasuredService

    def searching(self) -> BenchStack:
        """The registry and the process to search (and to poll for arrivals)."""
        return BenchStack(self.registry, self.search_api)

    def receiving(self) -> BenchStack:
        """The registry and the process whose ``/metrics`` count notifications."""
        return BenchStack(self.registry, self.webhooks)

    def memory_mib(self) -> dict[str, dict[str, float]]:
        """Resident and peak memory of each role's process."""
        roles = {"webhooks": self.webhooks, "indexer": self.indexer, "search_api": self.search_api}
        return {name: service.memory_mib() for name, service in roles.items()}


class TimedPusher(RegistryPusher):
    """``RegistryPusher`` that keeps when each push's last manifest PUT returned.

    ``bench.freshness`` starts pushes at the planned rate, but a pool of a few
    threads runs them: when pushes are slow, the registry receives them at a
    lower rate than planned. These times say at which rate it really did.
    """

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.returned: list[float] = []
        self._returned_lock = threading.Lock()

    def push(self, spec: RepositorySpec) -> list[float]:
        times = super().push(spec)
        with self._returned_lock:
            self.returned.append(times[-1])
        return times

    def completion(self) -> dict[str, Any]:
        """Pushes completed per second (first to last manifest returned), and the gaps between completions."""
        ends = sorted(self.returned)
        span = ends[-1] - ends[0] if len(ends) > 1 else 0.0
        gaps = [b - a for a, b in zip(ends, ends[1:])]
        return {"completed_per_s": round((len(ends) - 1) / span, 2) if span > 0 else None,
                "span_s": round(span, 2), "gap_s": summary(gaps)}


def kafka_service(directory: Path, registry_url: str, role: str, kafka: KafkaOptions) -> MeasuredService:
    """A ``regsearch <role>`` on ``kafka`` with data in ``directory``, not started."""
    return MeasuredService(directory, registry_url, token=TOKEN, role=role, extra=kafka.args())


@contextmanager
def running_kafka_stack(root: Path, kafka: KafkaOptions) -> Iterator[KafkaBenchStack]:
    """Start the registry and the three roles under ``root``; stop them all on exit."""
    webhooks = kafka_service(root / "webhooks", "", "webhooks", kafka)
    notifications = Notifications(webhooks.notify_url, TOKEN, timeout="1s", threshold=5, backoff="1s")
    registry = RegistryProcess(root / "registry", notifications=notifications)
    webhooks.registry_url = registry.url
    with ExitStack() as running:
        registry.start()
        running.callback(registry.stop)
        services = [webhooks, *(kafka_service(root / role, registry.url, role, kafka) for role in ("indexer", "search-api"))]
        for service in services:
            service.start()
            running.callback(service.stop)
        yield KafkaBenchStack(registry, *services)


def measure_after_preload(
    searching: BenchStack, receiving: BenchStack, packages: tuple[list[Package], list[Package]], run: FreshnessRun
) -> dict[str, Any]:
    """Preload ``packages[0]``, wait until notifications stop, then time pushes of ``packages[1]``.

    ``searching`` is polled for arrivals; ``receiving`` counts notifications
    (the same stack in the embedded mode).
    """
    pusher = TimedPusher(searching.registry.url)
    pusher.seed()
    bulk, fresh = packages
    preload = load_registry(searching, pusher, bulk_specs(bulk, run.query_plan()), run.query_plan())
    pusher.returned.clear()
    settled, waited = wait_quiet(receiving, timeout_s=run.index_timeout_s)
    counters_before = webhook_counters(receiving.service.url)
    started = time.monotonic()
    freshness = measure_freshness(searching, pusher, fresh, run.freshness)
    counters_after = webhook_counters(receiving.service.url)
    notifications = {k: v - counters_before.get(k, 0) for k, v in counters_after.items()}
    return {
        "preload": _preload_figures(preload),
        **freshness,
        "notifications": notifications,
        "pushes_completed": pusher.completion(),
        "settled_before": settled,
        "waited_before_s": round(waited, 1),
        "measured_s": round(time.monotonic() - started, 1),
    }


def _preload_figures(load: dict[str, Any]) -> dict[str, Any]:
    kept = ("repositories", "tags", "push_s", "searchable_s", "searchable_rate_tags_per_s", "indexed_tags",
            "indexed_repositories", "complete")
    return {key: load.get(key) for key in kept}
