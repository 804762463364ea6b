"""In-process microbenchmark of :class:`indexer.index.SearchIndex`, without HTTP or a registry.

It answers, in seconds rather than the full run's 15 minutes, the two
questions behind the targets in ``RESULTS.md``:

1. **Load**: the index is built the way the follower builds it during a
   load: each tag push is one tag document plus its repository document
   rebuilt from the tags so far (``indexer.metadata``), applied in batches
   of ``--load-batch`` pushes. Names and descriptions are the Debian
   packages ``bench.corpus`` picks, the same ones ``bench.run`` pushes.
   Every ``apply()`` is timed: commit latency and the worst stall while the
   index grows.
2. **Queries**: ``bench.query_latency.query_set`` (the full run's fixed
   set) through ``SearchIndex.search`` as ``/v1/search?q=…&n=25`` asks it,
   p50/p99 per kind of query; plus the freshness poller's request (empty
   query, newest first, 100 per page), a tag search and a filtered search.
   Timed twice: on the index as the load left it, and after compaction
   (``SearchIndex.compact()`` until done, what the follower does while the
   log is idle, e.g. in the full run's quiet wait before its queries).
3. **Fresh pushes** on the loaded index: ``--fresh-pushes`` new
   repositories in batches of ``--fresh-batch`` pushes; each ``apply()``
   is timed, then the poller's request (the first search after a commit,
   which opens a new searcher).

Each figure is wall time; ``*_cpu_ms`` figures are this thread's CPU time
for the same calls, which other work on a busy machine inflates far less.
Figures are printed and written to ``--output`` (``bench/index_micro.json``).
Run from the repository root: ``python -m bench.index_micro``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.corpus import Package, debian_packages, pick
from bench.images import ARCHITECTURES, OCI_MANIFEST, RepositorySpec
from bench.machine import describe_machine, load_average
from bench.query_latency import QueryPlan, bulk_specs, query_set
from bench.stats import summary
from indexer.documents import Document, Platform, TagDocument
from indexer.index import SearchIndex, SearchRequest
from indexer.metadata import build_repository_document

REGISTRY = "127.0.0.1:5000"
PAGE_SIZE = 25
POLL_PAGE = 100
DEFAULT_OUTPUT = Path("bench/index_micro.json")
_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z: pushes are one second apart from here
Change = tuple[str, Document | None]


@dataclass(frozen=True)
class MicroPlan:
    """What to build and time."""

    tags: int = 10_000
    tags_per_repo: int = 5
    seed: int = 42
    requests: int = 2000
    load_batch: int = 25
    fresh_pushes: int = 300
    fresh_batch: int = 2

    @property
    def query_plan(self) -> QueryPlan:
        return QueryPlan(tags=self.tags, tags_per_repo=self.tags_per_repo)


@dataclass(frozen=True)
class TimedQuery:
    """One request of the timed set and the kind of query it stands for."""

    category: str
    request: SearchRequest


class PushClock:
    """Push times one second apart, as ISO 8601 UTC strings, so newest-first has an order."""

    def __init__(self) -> None:
        self._next = _EPOCH

    def tick(self) -> str:
        self._next += 1
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._next))


def tag_document(spec: RepositorySpec, tag: str, number: int, pushed: str) -> TagDocument:
    """The document the worker builds for ``spec:tag`` as ``bench.images`` pushes it."""
    digest = "sha256:" + hashlib.sha256(f"{spec.name}:{tag}".encode()).hexdigest()
    labels = {
        "org.opencontainers.image.title": spec.title,
        "org.opencontainers.image.description": spec.description,
        "org.opencontainers.image.version": tag,
    }
    return TagDocument(
        registry=REGISTRY, repository=spec.name, tag=tag, digest=digest, media_type=OCI_MANIFEST,
        platforms=(Platform("linux", ARCHITECTURES[number % 2]),), size=2048 + number,
        created="2024-01-01T00:00:00Z", pushed=pushed, labels=labels,
        title=spec.title, description=spec.description,
        layers=(digest.replace("sha256:", "sha256:1"), digest.replace("sha256:", "sha256:2")),
        configs=(digest.replace("sha256:", "sha256:3"),),
    )


def push_changes(spec: RepositorySpec, clock: PushClock) -> Iterator[list[Change]]:
    """The document-log changes of each tag push of ``spec``: the tag, then its repository rebuilt."""
    tags: list[TagDocument] = []
    for number, tag in enumerate(spec.tags):
        tags.append(tag_document(spec, tag, number, clock.tick()))
        repository = build_repository_document(REGISTRY, spec.name, tags, pulls=0)
        yield [(tags[-1].doc_id, tags[-1]), (repository.doc_id, repository)]


def batches(pushes: Iterator[list[Change]], size: int) -> Iterator[list[Change]]:
    """The changes of ``size`` pushes at a time, in order."""
    batch: list[Change] = []
    count = 0
    for changes in pushes:
        batch += changes
        count += 1
        if count == size:
            yield batch
            batch, count = [], 0
    if batch:
        yield batch


class Timings:
    """Wall and CPU seconds of repeated calls, by category."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def timed(self, category: str, call: Callable[[], object]) -> None:
        """Run ``call`` and keep its wall and thread CPU time under ``category``."""
        cpu, wall = time.thread_time(), time.perf_counter()
        call()
        self.wall.setdefault(category, []).append(time.perf_counter() - wall)
        self.cpu.setdefault(category, []).append(time.thread_time() - cpu)

    def all(self, kind: str, categories: Sequence[str]) -> list[float]:
        values = self.wall if kind == "wall" else self.cpu
        return [v for category in categories for v in values.get(category, [])]


def apply_all(
    index: SearchIndex, pushes: Iterator[list[Change]], size: int, timings: Timings,
    after: Callable[[], None] | None = None,
) -> None:
    """Apply ``pushes`` in batches of ``size``, timed as ``apply`` in ``timings``; ``after`` runs after each."""
    applied = sum(index.applied_positions().values())
    for batch in batches(pushes, size):
        applied += len(batch)
        timings.timed("apply", lambda: index.apply(batch, {0: applied}))
        if after is not None:
            after()


def timed_queries(bulk: list[Package], seed: int) -> list[TimedQuery]:
    """The full run's query set as ``/v1/search`` asks it, then the extra kinds this benchmark adds."""
    queries = [TimedQuery(q.category, SearchRequest(q=q.text, limit=PAGE_SIZE)) for q in query_set(bulk, seed)]
    word = queries[0].request.q
    return queries + [
        TimedQuery("newest first (poller)", SearchRequest(limit=POLL_PAGE)),
        TimedQuery("tag search", SearchRequest(q=word, kind="tag", limit=PAGE_SIZE)),
        TimedQuery("arch filter", SearchRequest(q=word, arch="arm64", limit=PAGE_SIZE)),
    ]


def time_queries(index: SearchIndex, queries: list[TimedQuery], requests: int) -> dict[str, Any]:
    """``requests`` searches over ``queries`` in a fixed shuffled order, after one warm-up round."""
    order = [queries[i % len(queries)] for i in range(requests)]
    random.Random(0).shuffle(order)
    for query in queries:
        index.search(query.request)
    timings = Timings()
    for query in order:
        timings.timed(query.category, lambda: index.search(query.request))
    bench_set = [c for c in timings.wall if c not in _EXTRA]
    return {
        "requests": requests,
        "bench_query_set_ms": summary(timings.all("wall", bench_set), 1000),
        "bench_query_set_cpu_ms": summary(timings.all("cpu", bench_set), 1000),
        "by_category_ms": {c: summary(v, 1000) for c, v in timings.wall.items()},
        "by_category_cpu_ms": {c: summary(v, 1000) for c, v in timings.cpu.items()},
        "hits": {q.request.q or "(empty)": index.search(q.request).total for q in queries},
    }


_EXTRA = ("newest first (poller)", "tag search", "arch filter")


def fresh_phase(index: SearchIndex, specs: list[RepositorySpec], plan: MicroPlan, clock: PushClock) -> dict[str, Any]:
    """New repositories on the loaded index: apply latency, and the first search after each commit."""
    timings = Timings()

    def first_search() -> None:
        timings.timed("search", lambda: index.search(SearchRequest(limit=POLL_PAGE)))

    pushes = (changes for spec in specs for changes in push_changes(spec, clock))
    apply_all(index, pushes, plan.fresh_batch, timings, first_search)
    applies, searches = timings.wall["apply"], timings.wall["search"]
    return {
        "pushes": len(specs),
        "pushes_per_batch": plan.fresh_batch,
        "apply_ms": summary(applies, 1000),
        "apply_cpu_ms": summary(timings.cpu["apply"], 1000),
        "first_search_after_commit_ms": summary(searches, 1000),
        "first_search_after_commit_cpu_ms": summary(timings.cpu["search"], 1000),
        "visible_after_ms_max": round(max(a + s for a, s in zip(applies, searches)) * 1000, 1),
    }


def load_phase(index: SearchIndex, specs: list[RepositorySpec], plan: MicroPlan, clock: PushClock) -> dict[str, Any]:
    """Build the index push by push; apply latency overall and per tenth of the load."""
    began = time.perf_counter()
    pushes = (changes for spec in specs for changes in push_changes(spec, clock))
    timings = Timings()
    apply_all(index, pushes, plan.load_batch, timings)
    elapsed = time.perf_counter() - began
    applies = timings.wall["apply"]
    tenth = max(1, len(applies) // 10)
    return {
        "pushes_per_batch": plan.load_batch,
        "batches": len(applies),
        "seconds": round(elapsed, 1),
        "apply_ms": summary(applies, 1000),
        "apply_cpu_ms": summary(timings.cpu["apply"], 1000),
        "worst_stall_ms": round(max(applies) * 1000, 1),
        "worst_stall_cpu_ms": round(max(timings.cpu["apply"]) * 1000, 1),
        "max_apply_ms_per_tenth": [round(max(applies[i : i + tenth]) * 1000, 1) for i in range(0, len(applies), tenth)],
    }


def run(plan: MicroPlan, directory: Path) -> dict[str, Any]:
    """Every phase against one new index in ``directory``."""
    load_before = load_average()
    packages = pick(debian_packages(), plan.query_plan.repositories + plan.fresh_pushes, plan.seed)
    bulk, fresh = packages[: plan.query_plan.repositories], packages[plan.query_plan.repositories :]
    specs = bulk_specs(bulk, plan.query_plan)
    fresh_specs = [RepositorySpec(f"fresh/{p.name}-{i}", p.name, p.description, ("latest",)) for i, p in enumerate(fresh)]
    clock = PushClock()
    queries = timed_queries(bulk, plan.seed)
    index = SearchIndex.open(directory)
    try:
        load = load_phase(index, specs, plan, clock)
        after_load = time_queries(index, queries, plan.requests)
        compaction = compact_phase(index)
        compacted = time_queries(index, queries, plan.requests)
        fresh_result = fresh_phase(index, fresh_specs, plan, clock)
    finally:
        index.close()
    machine = {**describe_machine(), "load_average_before": load_before, "load_average_after": load_average()}
    return {
        "plan": asdict(plan), "machine": machine, "load": load, "queries_after_load": after_load,
        "compaction": compaction, "queries": compacted, "fresh": fresh_result,
    }


def compact_phase(index: SearchIndex) -> dict[str, Any]:
    """``compact()`` until it has nothing left to merge; each step's seconds.

    An index without ``compact()`` (before it existed) reports no steps.
    """
    compact = getattr(index, "compact", None)
    steps: list[float] = []
    cpu: list[float] = []
    while compact is not None:
        began, began_cpu = time.perf_counter(), time.thread_time()
        if not compact():
            break
        steps.append(time.perf_counter() - began)
        cpu.append(time.thread_time() - began_cpu)
    return {"steps": len(steps), "seconds": round(sum(steps), 2), "step_s": summary(steps), "step_cpu_s": summary(cpu)}


def report(result: dict[str, Any]) -> str:
    """The figures a reader compares between runs, one per line."""
    load, fresh, compaction = result["load"], result["fresh"], result["compaction"]
    lines = [
        f"load: {load['batches']} applies in {load['seconds']} s; apply p50 {load['apply_ms']['median']} ms, "
        f"p99 {load['apply_ms']['p99']} ms, worst stall {load['worst_stall_ms']} ms "
        f"(CPU: p50 {load['apply_cpu_ms']['median']}, p99 {load['apply_cpu_ms']['p99']}, worst {load['worst_stall_cpu_ms']} ms)",
        f"  worst apply per tenth of the load (ms): {load['max_apply_ms_per_tenth']}",
    ]
    lines += _query_lines("search as the load left the index", result["queries_after_load"])
    lines.append(
        f"compaction: {compaction['steps']} steps, {compaction['seconds']} s, "
        f"longest step {compaction['step_s'].get('max', 0)} s (CPU {compaction['step_cpu_s'].get('max', 0)} s)"
    )
    lines += _query_lines("search after compaction", result["queries"])
    lines.append(
        f"fresh: apply p50 {fresh['apply_ms']['median']} ms, p99 {fresh['apply_ms']['p99']} ms, max {fresh['apply_ms']['max']} ms "
        f"(CPU p50 {fresh['apply_cpu_ms']['median']}, max {fresh['apply_cpu_ms']['max']}); "
        f"first search after commit p50 {fresh['first_search_after_commit_ms']['median']} ms, "
        f"p99 {fresh['first_search_after_commit_ms']['p99']} ms (CPU p50 {fresh['first_search_after_commit_cpu_ms']['median']}, "
        f"p99 {fresh['first_search_after_commit_cpu_ms']['p99']}); worst apply+search {fresh['visible_after_ms_max']} ms"
    )
    return "\n".join(lines)


def _query_lines(title: str, queries: dict[str, Any]) -> list[str]:
    overall, cpu = queries["bench_query_set_ms"], queries["bench_query_set_cpu_ms"]
    lines = [
        f"{title}, bench query set: p50 {overall['median']} ms, p99 {overall['p99']} ms "
        f"(CPU p50 {cpu['median']}, p99 {cpu['p99']})"
    ]
    return lines + [
        f"  {c:24} p50 {s['median']:7} ms  p99 {s['p99']:7} ms   CPU p50 {queries['by_category_cpu_ms'][c]['median']:7} "
        f"p99 {queries['by_category_cpu_ms'][c]['p99']:7}"
        for c, s in queries["by_category_ms"].items()
    ]


def _arguments(argv: Sequence[str] | None) -> tuple[MicroPlan, Path | None, Path]:
    defaults = MicroPlan()
    parser = argparse.ArgumentParser(prog="python -m bench.index_micro", description=__doc__.split("\n\n")[0])
    for name in ("tags", "tags_per_repo", "seed", "requests", "load_batch", "fresh_pushes", "fresh_batch"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(defaults, name))
    parser.add_argument("--workdir", type=Path, default=None, help="keep the index here (default: a temporary dir)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    plan = MicroPlan(**{name: getattr(args, name) for name in asdict(defaults)})
    return plan, args.workdir, args.output


def main(argv: Sequence[str] | None = None) -> None:
    """Run every phase, print the figures and write them to the output file."""
    plan, workdir, output = _arguments(argv)
    with tempfile.TemporaryDirectory(prefix="index-micro-") as scratch:
        result = run(plan, (workdir or Path(scratch)) / "index")
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(report(result))
    print(f"written to {output}")


if __name__ == "__main__":
    main()
