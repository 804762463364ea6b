"""Push-to-searchable latency: how long after a push returns can a search find it.

Images are pushed at a steady rate, each to a new repository
``<prefix><debian-name>-<i>``, and the time each manifest PUT returned is
kept. One poller asks the service for repositories newest first (an empty
query, the cheapest way to see arrivals) and notes when each name first
appears, at the moment the answer arrived: the latency includes up to one
poll cycle, which is reported alongside.

The poller is the instrument, so it must not be the load: it reads small
pages and stops at the first page that holds nothing new (documents become
visible in push order, give or take a few places), with a full pass every
:data:`FULL_PASS_EVERY` cycles for any straggler further back. An earlier
poller that re-read every arrival each cycle took about 40% of the
service's CPU at 20 pushes/s (py-spy, 16:20 UTC).
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.corpus import Package
from bench.images import RegistryPusher, RepositorySpec
from bench.pipeline import stage_figures, stage_histograms, webhook_counters
from bench.stack import BenchStack
from bench.stats import summary

PAGE = 25
FULL_PASS_EVERY = 20
# Pushes in flight at once: one push takes ~0.5 s on a busy machine, so a
# pool of ``rate`` threads (at least 8) keeps the rate without queueing here.
MIN_PUSH_THREADS = 8
POLL_PAUSE_S = 0.02


@dataclass(frozen=True)
class FreshnessPlan:
    """``pushes`` images at ``rate`` per second; wait ``timeout_s`` after the last for them to show."""

    pushes: int = 200
    rate: float = 20.0
    timeout_s: float = 30.0
    target_p99_s: float = 2.0
    prefix: str = "fresh/"


class ArrivalPoller:
    """Notes the first ``time.monotonic()`` each repository named ``prefix...`` is found, until stopped."""

    def __init__(self, stack: BenchStack, prefix: str, expected: int) -> None:
        self.stack = stack
        self.prefix = prefix
        self.expected = expected
        self.seen: dict[str, float] = {}
        self.cycles: list[float] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="arrival-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait_all(self, deadline: float) -> None:
        """Return when every expected name was seen or at ``deadline`` (monotonic), then stop polling."""
        while len(self.seen) < self.expected and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.01)
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        cycle = 0
        while not self._stop.is_set() and len(self.seen) < self.expected:
            began = time.monotonic()
            cycle += 1
            try:
                self._poll_once(full=cycle % FULL_PASS_EVERY == 0)
            except Exception as error:  # keep polling; a failed poll only delays arrivals
                self.errors.append(repr(error))
            self.cycles.append(time.monotonic() - began)
            self._stop.wait(POLL_PAUSE_S)

    def _poll_once(self, full: bool) -> None:
        """Pages newest first until a page reaches repositories pushed before this run, or (unless
        ``full``) holds no name that is new."""
        for page in range(self.expected // PAGE + 2):
            answer = self.stack.search(q="", kind="repository", limit=PAGE, offset=page * PAGE)
            arrived = time.monotonic()
            names = [result["name"] for result in answer["results"]]
            ours = [name for name in names if name.startswith(self.prefix)]
            new = [name for name in ours if name not in self.seen]
            for name in new:
                self.seen[name] = arrived
            if len(names) < PAGE or len(ours) < len(names) or not (new or full):
                return


def fresh_specs(packages: list[Package], plan: FreshnessPlan) -> list[RepositorySpec]:
    """One single-tag repository per package, named ``<prefix><package>-<i>``."""
    return [
        RepositorySpec(f"{plan.prefix}{p.name}-{i}", p.name, p.description, ("latest",))
        for i, p in enumerate(packages[: plan.pushes])
    ]


def measure_freshness(stack: BenchStack, pusher: RegistryPusher, packages: list[Package], plan: FreshnessPlan) -> dict[str, Any]:
    """Push ``plan.pushes`` new repositories at ``plan.rate``/s and time how soon each is searchable."""
    specs = fresh_specs(packages, plan)
    tags_before = stack.indexed("tag")
    counters_before = webhook_counters(stack.service.url)
    stages_before = stage_histograms(stack.service.url)
    poller = ArrivalPoller(stack, plan.prefix, len(specs))
    poller.start()
    submitted, returned = _paced_pushes(pusher, specs, plan.rate)
    poller.wait_all(time.monotonic() + plan.timeout_s)
    counters_after = webhook_counters(stack.service.url)
    stages = stage_figures(stages_before, stage_histograms(stack.service.url))
    latencies = [poller.seen[s.name] - returned[s.name] for s in specs if s.name in poller.seen]
    missing = [s.name for s in specs if s.name not in poller.seen]
    latency = summary(latencies)
    span = max(submitted.values()) - min(submitted.values())
    return {
        "pushes": len(specs),
        "rate": plan.rate,
        "achieved_rate": round((len(specs) - 1) / span, 2) if span > 0 else None,
        "index_tags_before": tags_before,
        "seen": len(latencies),
        "missing": missing[:20],
        "push_s": summary([returned[s.name] - submitted[s.name] for s in specs]),
        "latency_s": latency,
        "latency_by_push_s": [round(poller.seen[s.name] - returned[s.name], 3) if s.name in poller.seen else None for s in specs],
        "notifications": {k: v - counters_before.get(k, 0) for k, v in counters_after.items()},
        "stages": stages,
        "poll_cycle_ms": summary(poller.cycles, 1000),
        "poll_errors": poller.errors[:5],
        "target_p99_s": plan.target_p99_s,
        "met": not missing and latency.get("p99", float("inf")) <= plan.target_p99_s,
    }


def _paced_pushes(pusher: RegistryPusher, specs: list[RepositorySpec], rate: float) -> tuple[dict[str, float], dict[str, float]]:
    """Start push ``i`` at ``i / rate`` seconds; the monotonic start and manifest-returned time of each."""
    submitted: dict[str, float] = {}
    futures: dict[str, Future[list[float]]] = {}
    threads = max(MIN_PUSH_THREADS, math.ceil(rate))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fresh-push") as executor:
        start = time.monotonic()
        for i, spec in enumerate(specs):
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
            submitted[spec.name] = time.monotonic()
            futures[spec.name] = executor.submit(pusher.push, spec)
        returned = {name: future.result()[0] for name, future in futures.items()}
    return submitted, returned
