"""Where a repository query's time goes: Registry Search beside SQL LIKE and FTS5, and a profile.

For each ``--repositories`` size, builds (in a temporary directory) a Whoosh
index of realistic repository documents: the images ``bench.load`` would push
(``bench.image_specs.plan_images``, one tag per repository), turned into tag
documents with ``indexer.metadata``'s rules and summarised into repository
documents as the worker does, written with :meth:`SearchIndex.apply` in
follower-sized batches, then compacted as the idle follower does. The SQL
peers of ``bench.peers`` are built from the same documents.

The query set is ``bench.query_latency.query_set`` over the same packages
(the two most common description words, random words, two words, prefixes,
exact names, no match), each at ``limit`` 25 with every match counted. The
peers are timed interleaved, query by query, so a busy machine slows all of
them alike: wall and thread-CPU milliseconds, p50 and p99 per category.

``--baseline FILE`` also times another version of ``indexer/index.py`` (for
instance ``git show <commit>:indexer/index.py > FILE``) on the same index
directory, and checks that both versions return the same totals and names.
Last, a cProfile of the current version's queries of one category
(``--profile-category``, common words by default) lists its largest costs. Everything is printed and written to ``--output``.
Run from the repository root: ``python -m bench.query_profile``.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.corpus import Package, debian_packages
from bench.machine import load_average
from bench.image_specs import ImageSpec, LoadPlan, manifest_annotations, plan_images, tag_labels
from bench.images import OCI_MANIFEST
from bench.peers import PeerAnswer, SqlFts5, SqlLike, check_limit
from bench.query_latency import Query, query_set
from bench.stats import summary
from indexer.documents import Platform, RepositoryDocument, TagDocument
from indexer.index import SearchIndex, SearchRequest
from indexer.metadata import build_repository_document, image_metadata

REGISTRY = "127.0.0.1:5000"
LIMIT = 25
APPLY_BATCH = 500
PROFILE_CATEGORY = "common word"
DEFAULT_OUTPUT = Path("bench/query_profile.txt")
Search = Callable[[str, int], PeerAnswer]


@dataclass(frozen=True)
class Contender:
    """One way of answering a query, by name."""

    name: str
    search: Search


def tag_document(spec: ImageSpec, number: int) -> TagDocument:
    """The document the worker builds for the newest tag of ``spec``: annotations win over labels."""
    tag = spec.tags[-1]
    labels, annotations = tag_labels(spec, tag), manifest_annotations(spec, tag)
    metadata = image_metadata(annotations, labels)
    return TagDocument(
        registry=REGISTRY, repository=spec.repository, tag=tag.tag, digest=f"sha256:{number:064x}",
        media_type=OCI_MANIFEST, platforms=tuple(Platform("linux", arch) for arch in spec.platforms),
        size=4096 + number, created=metadata.created, pushed=tag.created, labels=labels,
        annotations=annotations, title=metadata.title, description=metadata.description,
    )


def repository_documents(specs: Sequence[ImageSpec]) -> list[RepositoryDocument]:
    """One repository document per spec, summarised from its tag document as the worker does."""
    return [
        build_repository_document(REGISTRY, spec.repository, [tag_document(spec, number)], pulls=0)
        for number, spec in enumerate(specs)
    ]


def build_index(path: Path, documents: Sequence[RepositoryDocument]) -> None:
    """Write ``documents`` into a new index at ``path`` in follower-sized batches, then compact it."""
    index = SearchIndex.open(path)
    try:
        for start in range(0, len(documents), APPLY_BATCH):
            batch = documents[start : start + APPLY_BATCH]
            index.apply([(doc.doc_id, doc) for doc in batch], {0: start + len(batch)})
        while index.compact():
            pass
    finally:
        index.close()


def index_search(index: Any) -> Search:
    """``index.search`` as ``/api/v1/search?q=…&n=limit`` asks it, answered like a peer."""

    def search(q: str, limit: int) -> PeerAnswer:
        check_limit(limit)
        page = index.search(SearchRequest(q=q, limit=limit))
        return PeerAnswer(page.total, tuple(d.name for d in page.documents))

    return search


def load_module(path: Path) -> ModuleType:
    """The Python file ``path`` imported as a module of its own (another version of ``indexer.index``)."""
    spec = importlib.util.spec_from_file_location(f"baseline_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def packages_of(specs: Sequence[ImageSpec]) -> list[Package]:
    """The loaded packages as ``query_set`` wants them: a repository's last path segment and description."""
    return [Package(spec.repository.rsplit("/", 1)[-1], spec.description) for spec in specs]


def time_interleaved(
    contenders: Sequence[Contender], queries: Sequence[Query], rounds: int
) -> dict[str, dict[str, dict[str, list[float]]]]:
    """Seconds (wall and thread CPU) per contender and category; each query is run by every contender in turn."""
    times: dict[str, dict[str, dict[str, list[float]]]] = {c.name: {"wall": {}, "cpu": {}} for c in contenders}
    for _ in range(rounds):
        for query in queries:
            for contender in contenders:
                wall, cpu = time.perf_counter(), time.thread_time()
                contender.search(query.text, LIMIT)
                cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
                times[contender.name]["wall"].setdefault(query.category, []).append(wall)
                times[contender.name]["cpu"].setdefault(query.category, []).append(cpu)
    return times


def timing_table(times: dict[str, dict[str, dict[str, list[float]]]], categories: Sequence[str]) -> list[str]:
    """Lines of p50/p99 milliseconds (wall, then thread CPU) per contender and category, then overall."""
    lines = [f"{'category':<12} {'contender':<24} {'wall p50':>9} {'wall p99':>9} {'cpu p50':>9} {'cpu p99':>9}"]
    for category in [*categories, "overall"]:
        for name, kinds in times.items():
            row = [_figures(kinds[kind], category) for kind in ("wall", "cpu")]
            cells = " ".join(f"{value:>9.3f}" for pair in row for value in pair)
            lines.append(f"{category:<12} {name:<24} {cells}")
    return lines


def _figures(by_category: dict[str, list[float]], category: str) -> tuple[float, float]:
    values = [v for vs in by_category.values() for v in vs] if category == "overall" else by_category[category]
    figures = summary(values, 1000)
    return figures["median"], figures["p99"]


def answers_table(contenders: Sequence[Contender], queries: Sequence[Query]) -> tuple[list[str], list[str]]:
    """Lines of each query's total per contender, and of the queries where index versions answer differently."""
    lines = [f"{'category':<12} {'query':<28} " + " ".join(f"{c.name:>24}" for c in contenders)]
    differences = []
    for query in queries:
        answers = [contender.search(query.text, LIMIT) for contender in contenders]
        lines.append(f"{query.category:<12} {query.text[:28]:<28} " + " ".join(f"{a.total:>24}" for a in answers))
        ours = [a for c, a in zip(contenders, answers) if c.name.startswith("registry-search")]
        if any(answer != ours[0] for answer in ours[1:]):
            totals = " vs ".join(str(a.total) for a in ours)
            same = all(a.names == ours[0].names for a in ours)
            differences.append(f"  {query.text!r}: totals {totals}; same {LIMIT} names in the same order: {same}")
    return lines, differences


def profile(search: Search, queries: Sequence[Query], repeats: int, top: int) -> list[str]:
    """cProfile of ``repeats`` runs of ``queries``: the ``top`` functions by own time, then by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeats):
        for query in queries:
            search(query.text, LIMIT)
    profiler.disable()
    lines = []
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        lines += [f"--- sorted by {order} ---", *_trimmed(out.getvalue())]
    return lines


def _trimmed(report: str) -> list[str]:
    lines = report.splitlines()
    start = next((n for n, line in enumerate(lines) if "function calls" in line), 0)
    return [line for line in lines[start:] if line.strip()]


def run_size(repositories: int, packages: list[Package], args: argparse.Namespace) -> list[str]:
    """Every figure for one index size, as report lines."""
    specs = plan_images(LoadPlan(repositories=repositories, tags_per_repo=1, seed=args.seed), packages)
    documents = repository_documents(specs)
    queries = query_set(packages_of(specs), args.seed)
    lines = [f"=== {repositories} repositories, limit {LIMIT}, {args.rounds} rounds, load average {load_average()} ==="]
    with tempfile.TemporaryDirectory(prefix="query-profile-") as root:
        began = time.perf_counter()
        build_index(Path(root) / "index", documents)
        lines.append(f"index built and compacted in {time.perf_counter() - began:.1f} s")
        opened: list[Any] = [SearchIndex.open(Path(root) / "index")]
        contenders = [Contender("registry-search", index_search(opened[0]))]
        if args.baseline is not None:
            opened.append(load_module(args.baseline).SearchIndex.open(Path(root) / "index"))
            contenders.append(Contender("registry-search (before)", index_search(opened[1])))
        peers = [SqlLike(), SqlFts5()]
        try:
            for peer in peers:
                peer.build(documents)
                contenders.append(Contender(peer.name, peer.search))
            lines += _measure(contenders, queries, args)
        finally:
            for peer in peers:
                peer.close()
            for index in opened:
                index.close()
    return lines


def _measure(contenders: Sequence[Contender], queries: Sequence[Query], args: argparse.Namespace) -> list[str]:
    answers, differences = answers_table(contenders, queries)  # also the warm-up
    categories = list(dict.fromkeys(q.category for q in queries))
    lines = ["", "matches counted per query:", *answers]
    lines += ["", f"index versions answer {len(differences)} queries differently", *differences]
    lines += ["", "latency, ms:", *timing_table(time_interleaved(contenders, queries, args.rounds), categories)]
    common = [q for q in queries if q.category == args.profile_category]
    for contender in contenders:
        if contender.name.startswith("registry-search"):
            lines += ["", f"cProfile of {contender.name}, {args.profile_repeats} x {[q.text for q in common]}:"]
            lines += profile(contender.search, common, args.profile_repeats, args.top)
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--rounds", type=int, default=30, help="times each query is run by each contender")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline", type=Path, help="another indexer/index.py to time beside the current one")
    parser.add_argument("--profile-repeats", type=int, default=100)
    parser.add_argument("--profile-category", default=PROFILE_CATEGORY, help="the query category profiled")
    parser.add_argument("--top", type=int, default=25, help="functions listed per profile ordering")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    packages = debian_packages()
    lines = [f"python -m bench.query_profile {' '.join(sys.argv[1:])}", time.strftime("%Y-%m-%d %H:%M:%S")]
    for repositories in args.repositories:
        lines += ["", *run_size(repositories, packages, args)]
    text = "\n".join(lines) + "\n"
    print(text)
    args.output.write_text(text)


if __name__ == "__main__":
    main()
