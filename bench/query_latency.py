"""The query set's categories, ``/v1/search`` timing, and the simpler load of the Kafka benchmark.

``query_set`` draws a fixed set of queries from the loaded packages' own
words; ``measure_queries`` sends them to ``/v1/search`` sequentially and
from several clients at once. ``load_registry`` pushes ``bench.images``
repositories and waits until the service finds every tag (the Kafka
benchmark's preload; ``bench.run`` uses ``bench.load`` and a kept registry).
The alternatives are in ``bench.peers``, timed by ``bench.compare``.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from bench.corpus import Package, description_words
from bench.images import RegistryPusher, RepositorySpec
from bench.pipeline import PipelineSampler, accepted_events, wait_quiet, webhook_counters
from bench.stack import BenchStack
from bench.stats import summary

REQUEST_TIMEOUT_S = 30
FLOOR_REQUESTS = 200
NO_MATCH = ("zzqxjvw", "qqxyzzyplugh")


@dataclass(frozen=True)
class QueryPlan:
    """How much to load, and how many queries to time."""

    tags: int = 10_000
    tags_per_repo: int = 5
    load_threads: int = 16
    index_timeout_s: float = 900.0
    requests: int = 2000
    warmup: int = 100
    clients: int = 4
    baseline_queries: int = 30
    page_size: int = 25
    target_p99_ms: float = 20.0

    @property
    def repositories(self) -> int:
        return -(-self.tags // self.tags_per_repo)


@dataclass(frozen=True)
class Query:
    """One query of the fixed set, with the kind of query it stands for."""

    category: str
    text: str


def tag_names(count: int) -> tuple[str, ...]:
    """``count`` tag names: ``latest`` and versions ``1.0``, ``1.1``, ..."""
    return ("latest", *(f"1.{n}" for n in range(count - 1)))[:count]


def bulk_specs(packages: list[Package], plan: QueryPlan) -> list[RepositorySpec]:
    """``plan.repositories`` repositories ``bench/<package>`` holding ``plan.tags`` tags in all."""
    specs = []
    for number, package in enumerate(packages[: plan.repositories]):
        count = min(plan.tags_per_repo, plan.tags - number * plan.tags_per_repo)
        specs.append(RepositorySpec(f"bench/{package.name}", package.name, package.description, tag_names(count)))
    return specs


def query_set(packages: list[Package], seed: int) -> list[Query]:
    """The fixed queries, drawn with ``random.Random(seed)`` from the loaded packages' own words.

    Every category but ``no match`` finds at least one repository by construction.
    """
    rng = random.Random(seed)
    words = description_words(packages)
    counts = Counter(w for p in packages for w in set(description_words([p])))
    with_two = [p for p in packages if len(description_words([p])) >= 2]
    queries = [Query("common word", word) for word, _ in counts.most_common(2)]
    queries += [Query("word", word) for word in rng.sample(words, 6)]
    queries += [Query("two words", " ".join(description_words([p])[:2])) for p in rng.sample(with_two, 4)]
    queries += [Query("prefix", word[:4] + "*") for word in rng.sample(words, 4)]
    queries += [Query("exact name", p.name) for p in rng.sample(packages, 4)]
    queries += [Query("no match", word) for word in NO_MATCH]
    return queries


def load_registry(stack: BenchStack, pusher: RegistryPusher, specs: list[RepositorySpec], plan: QueryPlan) -> dict[str, Any]:
    """Push ``specs`` with ``plan.load_threads`` threads, then wait until the service finds every tag.

    Times are seconds from the first push: all pushed, every push event
    accepted by the receiver, every tag searchable.
    """
    expected = sum(len(s.tags) for s in specs)
    accepted_before = accepted_events(webhook_counters(stack.service.url))
    with PipelineSampler(stack) as sampler:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=plan.load_threads, thread_name_prefix="load") as executor:
            list(executor.map(pusher.push, specs))
        pushed_s = time.monotonic() - started
        tags, _ = stack.wait_indexed("tag", expected, plan.index_timeout_s)
        repositories, _ = stack.wait_indexed("repository", len(specs), 10.0)
        searchable_s = time.monotonic() - started
    settled, quiet_s = wait_quiet(stack, timeout_s=plan.index_timeout_s)
    counters = webhook_counters(stack.service.url)
    notified_s = sampler.first_reaching("accepted", accepted_before + expected)
    return {
        "repositories": len(specs),
        "tags": expected,
        "push_s": round(pushed_s, 2),
        "push_rate_tags_per_s": round(expected / pushed_s, 1),
        "notified_s": None if notified_s is None else round(notified_s, 1),
        "searchable_s": round(searchable_s, 2),
        "searchable_rate_tags_per_s": round(tags / searchable_s, 1),
        "indexed_tags": tags,
        "indexed_repositories": repositories,
        "complete": tags == expected and repositories == len(specs),
        "settled_after_s": round(quiet_s, 1),
        "settled": settled,
        "webhook_counters": counters,
        "timeline": sampler.timeline(),
    }


def measure_queries(stack: BenchStack, queries: list[Query], plan: QueryPlan) -> dict[str, Any]:
    """Time ``/v1/search`` for the query set: sequentially, then from ``plan.clients`` clients."""
    url = f"{stack.service.url}/v1/search"
    order = [queries[i % len(queries)] for i in range(plan.requests)]
    random.Random(0).shuffle(order)
    session = requests.Session()
    for query in order[: plan.warmup]:
        _timed_search(session, url, query, plan.page_size)
    floor = _http_floor(session, f"{stack.service.url}/healthz", min(plan.requests, FLOOR_REQUESTS))
    sequential = _sequential(session, url, order, plan.page_size)
    concurrent = _concurrent(url, order, plan)
    p99 = sequential["latency_ms"].get("p99", float("inf"))
    p99_clients = concurrent["latency_ms"].get("p99", float("inf"))
    return {
        "endpoint": "/v1/search",
        "page_size": plan.page_size,
        "queries": [{"category": q.category, "text": q.text, "results": _total(session, url, q)} for q in queries],
        "healthz_floor_ms": floor,
        "sequential": sequential,
        "concurrent": concurrent,
        "target_p99_ms": plan.target_p99_ms,
        "met": p99 <= plan.target_p99_ms,
        "met_with_clients": p99_clients <= plan.target_p99_ms,
    }


def _sequential(session: requests.Session, url: str, order: list[Query], page_size: int) -> dict[str, Any]:
    began = time.perf_counter()
    timings = [(q.category, _timed_search(session, url, q, page_size)) for q in order]
    elapsed = time.perf_counter() - began
    by_category: dict[str, list[float]] = {}
    for category, seconds in timings:
        by_category.setdefault(category, []).append(seconds)
    return {
        "requests": len(order),
        "requests_per_s": round(len(order) / elapsed, 1),
        "latency_ms": summary([s for _, s in timings], 1000),
        "by_category_ms": {c: summary(v, 1000) for c, v in by_category.items()},
    }


def _concurrent(url: str, order: list[Query], plan: QueryPlan) -> dict[str, Any]:
    shares = [order[i :: plan.clients] for i in range(plan.clients)]
    results: list[list[float]] = [[] for _ in shares]
    barrier = threading.Barrier(plan.clients + 1)

    def client(number: int) -> None:
        session = requests.Session()
        barrier.wait()
        results[number] = [_timed_search(session, url, q, plan.page_size) for q in shares[number]]

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(plan.clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join(timeout=600)
    elapsed = time.perf_counter() - began
    latencies = [s for share in results for s in share]
    return {
        "clients": plan.clients,
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "latency_ms": summary(latencies, 1000),
    }


def _http_floor(session: requests.Session, url: str, count: int) -> dict[str, float]:
    """Latency of ``/healthz``: what any request to the service costs, search or not."""
    latencies = []
    for _ in range(count):
        began = time.perf_counter()
        session.get(url, timeout=REQUEST_TIMEOUT_S).raise_for_status()
        latencies.append(time.perf_counter() - began)
    return summary(latencies, 1000)


def _timed_search(session: requests.Session, url: str, query: Query, page_size: int) -> float:
    began = time.perf_counter()
    response = session.get(url, params={"q": query.text, "n": str(page_size)}, timeout=REQUEST_TIMEOUT_S)
    seconds = time.perf_counter() - began
    if response.status_code != 200:
        raise RuntimeError(f"/v1/search?q={query.text!r} answered {response.status_code}: {response.text[:300]}")
    return seconds


def _total(session: requests.Session, url: str, query: Query) -> int:
    response = session.get(url, params={"q": query.text, "n": "1"}, timeout=REQUEST_TIMEOUT_S)
    response.raise_for_status()
    return int(response.json()["num_results"])
