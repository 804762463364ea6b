"""One size of the benchmark, every figure from the same registry content in one go.

For ``repositories`` repositories (``bench.registry_cache`` loads them once
and keeps them), in this order:

1. the sequential crawl baseline (``bench.backfill``) against the registry
   alone, without notifications: the rate a simple one-thread crawler reaches;
2. Registry Search started on an empty index in front of the same registry:
   its reconciler walks the catalog at start, and the time until every tag
   is searchable gives the backfill rate;
3. ``/v1/search`` over HTTP, then Registry Search in-process beside SQL
   ``LIKE``, FTS5 and the catalog walk (``bench.compare``), same queries,
   same limit;
4. push-to-searchable at a steady rate, to new repositories under
   ``bench-fresh/`` that are removed from the kept registry afterwards;
5. resident memory of the search process (and of all the service's
   processes) after the backfill, after the queries and at the end.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.backfill import sequential_crawl
from bench.compare import compare
from bench.corpus import Package
from bench.freshness import FreshnessPlan, measure_freshness
from bench.image_specs import ImageSpec, LoadPlan
from bench.images import RegistryPusher
from bench.peers import BenchQuery, CatalogWalk
from bench.pipeline import wait_quiet
from bench.query_latency import Query, QueryPlan, measure_queries, query_set
from bench.registry_cache import forget_namespace, loaded_registry
from bench.stack import BenchStack, CpuReading, running_stack
from tests.support.registry import RegistryProcess

FRESH_NAMESPACE = "bench-fresh"
FILTER_ARCH = "arm64"


@dataclass(frozen=True)
class SizePlan:
    """What to measure at one size, and how much of each."""

    repositories: int
    tags_per_repo: int = 1
    seed: int = 1
    load_threads: int = 16
    backfill_timeout_s: float = 3600.0
    crawl_budget_s: float = 60.0
    http_queries: int = 2000
    warmup: int = 100
    clients: int = 4
    peer_rounds: int = 20
    catalog_rounds: int = 2
    catalog_walks: int = 12
    pushes: int = 200
    rate: float = 20.0
    freshness_timeout_s: float = 30.0
    limit: int = 25

    @property
    def tags(self) -> int:
        return self.repositories * self.tags_per_repo

    def load_plan(self) -> LoadPlan:
        return LoadPlan(repositories=self.repositories, tags_per_repo=self.tags_per_repo,
                        threads=self.load_threads, seed=self.seed)


def bench_queries(specs: list[ImageSpec], seed: int) -> list[BenchQuery]:
    """The fixed query set for ``specs``: ``bench.query_latency.query_set``'s categories over the
    repositories' own names and descriptions, plus the same words filtered by architecture."""
    packages = [Package(spec.repository.rsplit("/", 1)[-1], spec.description, "") for spec in specs]
    plain = [BenchQuery(q.category, q.text) for q in query_set(packages, seed)]
    words = [q.text for q in plain if q.category in ("common word", "word")][:3]
    filtered = [BenchQuery("arch filter", word, arch=FILTER_ARCH) for word in words]
    return plain + filtered + [BenchQuery("arch only", "", arch=FILTER_ARCH)]


def one_per_category(queries: list[BenchQuery]) -> list[BenchQuery]:
    """The first query of each category: what the catalog walk is timed on, since its cost is the
    walk's whatever the query."""
    firsts: dict[str, BenchQuery] = {}
    for query in queries:
        firsts.setdefault(query.category, query)
    return list(firsts.values())


def catalog_queries(queries: list[BenchQuery], plan: SizePlan) -> list[BenchQuery]:
    """What the catalog walk is timed on: one query per category it can answer, as many as ``plan.catalog_walks``
    walks allow over ``plan.catalog_rounds`` rounds (at least one). Each catalog page re-walks the
    registry's repository tree, so a walk takes minutes at 100,000 repositories."""
    by_name = [query for query in one_per_category(queries) if query.arch is None]  # names are all it has
    return by_name[: max(1, plan.catalog_walks // plan.catalog_rounds)]


def measure_size(plan: SizePlan, specs: list[ImageSpec], cache: Path, workdir: Path) -> dict[str, Any]:
    """Every figure of one size; ``specs`` are the plan's images (``plan_images``), ``workdir`` empty."""
    directory, load = loaded_registry(cache, plan.load_plan(), specs)
    forget_namespace(directory, FRESH_NAMESPACE)  # left by a run that was killed
    queries = bench_queries(specs, plan.seed)
    try:
        _say(f"{plan.repositories}: sequential crawl for up to {plan.crawl_budget_s:g} s")
        crawl = _sequential_baseline(directory, plan)
        with running_stack(workdir, registry_dir=directory) as stack:
            figures = _with_service(stack, plan, specs, queries, workdir)
    finally:
        forget_namespace(directory, FRESH_NAMESPACE)
    backfill = figures.pop("backfill")
    backfill["sequential"] = crawl
    backfill["speedup"] = _ratio(backfill.get("tags_per_s"), crawl.get("projected_tags_per_s"))
    return {"repositories": plan.repositories, "tags": plan.tags, "load": load, "backfill": backfill, **figures,
            "queries": [{"category": q.category, "text": q.text, "arch": q.arch} for q in queries]}


def _with_service(
    stack: BenchStack, plan: SizePlan, specs: list[ImageSpec], queries: list[BenchQuery], workdir: Path
) -> dict[str, Any]:
    _say(f"{plan.repositories}: backfill of {plan.tags} tags by the reconciler from an empty index")
    backfill = _backfill(stack, plan)
    memory = {"after_backfill": _memory(stack)}
    _say(f"{plan.repositories}: {plan.http_queries} /v1/search requests, then every peer in-process")
    http = measure_queries(stack, [Query(q.category, q.text) for q in queries if q.arch is None], _query_plan(plan))
    catalog = CatalogWalk(stack.registry.url)
    try:
        peers = compare(workdir / "data", queries, plan.limit, plan.peer_rounds, catalog=catalog,
                        catalog_rounds=plan.catalog_rounds, catalog_queries=catalog_queries(queries, plan))
    finally:
        catalog.close()
    memory["after_queries"] = _memory(stack)
    _say(f"{plan.repositories}: {plan.pushes} pushes at {plan.rate:g}/s for push-to-searchable")
    freshness = _freshness(stack, specs, plan)
    memory["at_end"] = _memory(stack)
    return {"backfill": backfill, "query": {"limit": plan.limit, "http": http, **peers},
            "freshness": freshness, "memory_mib": memory}


def _sequential_baseline(directory: Path, plan: SizePlan) -> dict[str, Any]:
    """The sequential crawl against the registry alone (no notifications), with the CPU it cost."""
    with RegistryProcess(directory) as registry:
        before, own_before = CpuReading.now(registry), time.process_time()
        figures = sequential_crawl(registry.url, budget_s=plan.crawl_budget_s)
        after, own_s = CpuReading.now(registry), time.process_time() - own_before
    return {**figures.as_dict(), "cpu": cpu_account(before, after, own_s, figures.seconds, figures.tags, "crawler_s")}


def _backfill(stack: BenchStack, plan: SizePlan) -> dict[str, Any]:
    """Seconds from the service's start until every tag is searchable, the rate, and the CPU it cost."""
    tags, _ = stack.wait_indexed("tag", plan.tags, plan.backfill_timeout_s)
    seconds = time.monotonic() - stack.started_at
    cpu = None
    if stack.cpu_at_start is not None:
        after = CpuReading.now(stack.registry)
        cpu = cpu_account(stack.cpu_at_start, after, stack.service.cpu_s(), seconds, tags, "service_s")
    settled, quiet_s = wait_quiet(stack, timeout_s=plan.backfill_timeout_s)
    return {"tags": tags, "expected_tags": plan.tags, "complete": tags == plan.tags, "seconds": round(seconds, 2),
            "tags_per_s": round(tags / seconds, 1), "cpu": cpu, "settled": settled, "settled_after_s": round(quiet_s, 1)}


def cpu_account(before: CpuReading, after: CpuReading, other_s: float, seconds: float, tags: int, other: str) -> dict[str, Any]:
    """Where a crawl's CPU went: the registry's, the ``other`` side's (crawler or service) and the
    machine's busy seconds, the cores kept busy, and CPU milliseconds per tag of registry and other
    together: with every core busy, cores / that is the most tags per second this machine allows."""
    registry_s = after.registry_s - before.registry_s
    busy_s = after.machine_busy_s - before.machine_busy_s
    per_tag_ms = (registry_s + other_s) / tags * 1000 if tags else None
    return {"registry_s": round(registry_s, 2), other: round(other_s, 2), "machine_busy_s": round(busy_s, 2),
            "cores_busy": round(busy_s / seconds, 2) if seconds > 0 else None,
            "cpu_ms_per_tag": None if per_tag_ms is None else round(per_tag_ms, 2)}


def _query_plan(plan: SizePlan) -> QueryPlan:
    return QueryPlan(tags=plan.tags, tags_per_repo=plan.tags_per_repo, requests=plan.http_queries,
                     warmup=plan.warmup, clients=plan.clients, page_size=plan.limit)


def _freshness(stack: BenchStack, specs: list[ImageSpec], plan: SizePlan) -> dict[str, Any]:
    settled, waited = wait_quiet(stack, timeout_s=plan.freshness_timeout_s * 4)
    pusher = RegistryPusher(stack.registry.url)
    pusher.seed()
    packages = [Package(spec.repository.rsplit("/", 1)[-1], spec.description, "") for spec in specs[: plan.pushes]]
    fresh = FreshnessPlan(pushes=min(plan.pushes, len(packages)), rate=plan.rate,
                          timeout_s=plan.freshness_timeout_s, prefix=f"{FRESH_NAMESPACE}/")
    return {**measure_freshness(stack, pusher, packages, fresh), "settled_before": settled,
            "waited_before_s": round(waited, 1)}


def _memory(stack: BenchStack) -> dict[str, Any]:
    return {"search_process": stack.service.search_process_memory_mib(), "all_processes": stack.service.memory_mib()}


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    return round(ours / theirs, 2) if ours and theirs else None


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)
