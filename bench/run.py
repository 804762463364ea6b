"""Run the benchmark at each size, write the figures, tables and plots: ``python -m bench.run``.

    python -m bench.run [--sizes 1000 10000 100000] [--output bench/results.json]
    make bench SIZE=10000

For each size (repositories, ``--tags-per-repo`` tags each) ``bench.sized``
measures, in one process tree: the reconciler's backfill from an empty index
against a sequential crawl, query latency and throughput of Registry Search
beside the catalog walk, SQL ``LIKE`` and FTS5, push-to-searchable at a
steady rate, and resident memory. Loaded registries are kept in ``--cache``
(half an hour to load 100,000 repositories on two cores); everything else
starts from nothing in ``--workdir``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.corpus import debian_packages
from bench.image_specs import LoadPlan, plan_images
from bench.machine import describe_machine, load_average
from bench.output import publish
from bench.plots import write_plots
from bench.registry_cache import DEFAULT_CACHE
from bench.sized import SizePlan, measure_size
from bench.tables import machine_line, size_tables

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results.json"
DEFAULT_SIZES = (1_000, 10_000, 100_000)
CATALOG_WALK_TARGET_FROM = 10_000  # the 10x-over-the-catalog-walk target holds from this size on
MEMORY_TARGET_MIB = 300.0
MEMORY_TARGET_TAGS = 100_000
SPEEDUP_TARGET = 10.0
LARGE_CATALOG_FROM = 10_001  # a catalog walk takes seconds at 10,000 repositories, minutes at 100,000
LARGE_CATALOG_WALKS = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; every amount has a flag so a smoke run can be tiny."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="repositories per size")
    parser.add_argument("--tags-per-repo", type=int, default=1)
    parser.add_argument("--seed", type=int, default=LoadPlan.seed, help="picks the images and the queries")
    parser.add_argument("--load-threads", type=int, default=LoadPlan.threads)
    parser.add_argument("--crawl-budget", type=float, default=60.0, help="seconds the sequential crawl may run")
    parser.add_argument("--backfill-timeout", type=float, default=3600.0)
    parser.add_argument("--queries", type=int, default=2000, help="timed /v1/search requests (sequential, then concurrent)")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients for the second HTTP run")
    parser.add_argument("--peer-rounds", type=int, default=20, help="rounds of the query set for each in-process peer")
    parser.add_argument("--catalog-rounds", type=int, default=SizePlan.catalog_rounds,
                        help="rounds of one query per category for the catalog walk")
    parser.add_argument("--catalog-walks", type=int, default=SizePlan.catalog_walks,
                        help=f"timed catalog walks per size at most; {LARGE_CATALOG_WALKS} above "
                             f"{LARGE_CATALOG_FROM - 1:,} repositories, where one takes minutes")
    parser.add_argument("--pushes", type=int, default=200, help="images pushed for push-to-searchable")
    parser.add_argument("--rate", type=float, default=20.0, help="pushes per second")
    parser.add_argument("--freshness-timeout", type=float, default=30.0, help="seconds to wait after the last push")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where loaded registries are kept")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the services' data here")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="results file (JSON); plots go beside it")
    return parser.parse_args(argv)


def size_plan(args: argparse.Namespace, repositories: int) -> SizePlan:
    """The plan of one size from the command line."""
    return SizePlan(
        repositories=repositories, tags_per_repo=args.tags_per_repo, seed=args.seed, load_threads=args.load_threads,
        backfill_timeout_s=args.backfill_timeout, crawl_budget_s=args.crawl_budget, http_queries=args.queries,
        warmup=args.warmup, clients=args.clients, peer_rounds=args.peer_rounds,
        catalog_rounds=1 if repositories >= LARGE_CATALOG_FROM else args.catalog_rounds,
        catalog_walks=min(args.catalog_walks, LARGE_CATALOG_WALKS) if repositories >= LARGE_CATALOG_FROM else args.catalog_walks,
        pushes=args.pushes, rate=args.rate, freshness_timeout_s=args.freshness_timeout,
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every size in ascending order, each on its own registry and a new service."""
    load_before = load_average()
    sizes = sorted(set(args.sizes))
    largest = LoadPlan(repositories=sizes[-1], tags_per_repo=args.tags_per_repo, seed=args.seed)
    specs = plan_images(largest, debian_packages())  # each smaller size is a prefix of the largest
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="regsearch-bench-") as scratch:
        root = args.workdir or Path(scratch)
        for size in sizes:
            figures[str(size)] = measure_size(size_plan(args, size), specs[:size], args.cache, root / str(size))
    results = {
        "machine": {**describe_machine(), "load_average_before": load_before, "load_average_after": load_average()},
        "parameters": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "sizes": figures,
    }
    return {**results, "targets": targets(results)}


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """Each target of the issue, per size where it applies: the figures compared and whether met."""
    verdicts: dict[str, Any] = {}
    for size, figures in results["sizes"].items():
        peers = figures["query"]["peers"]
        ours = peers["registry-search"]["latency_ms"]
        checks: dict[str, Any] = {
            "not_slower_than_like": _at_least(peers["sql like"]["vs_registry_search"], 1.0),
            "vs_fts5": peers["sql fts5"]["vs_registry_search"],
            "backfill_speedup": {"figure": figures["backfill"]["speedup"], "target": SPEEDUP_TARGET,
                                 "met": (figures["backfill"]["speedup"] or 0) >= SPEEDUP_TARGET},
        }
        if int(size) >= CATALOG_WALK_TARGET_FROM:
            walk = peers["catalog walk"]["latency_ms"]
            ratio = round(walk["p99"] / ours["p99"], 1) if walk.get("p99") and ours.get("p99") else None
            checks["catalog_walk_p99"] = {"figure": ratio, "target": 10.0, "met": (ratio or 0) >= 10.0}
        if figures["tags"] >= MEMORY_TARGET_TAGS:
            rss = max(m["search_process"]["hwm"] for m in figures["memory_mib"].values())
            checks["search_process_peak_mib"] = {"figure": rss, "target": MEMORY_TARGET_MIB, "met": rss <= MEMORY_TARGET_MIB}
        verdicts[size] = checks
    return verdicts


def report(results: dict[str, Any]) -> str:
    """The tables of every size and the targets, as Markdown."""
    lines = [machine_line(results), "", size_tables(results), "", "Targets:"]
    for size, checks in results["targets"].items():
        for name, check in checks.items():
            lines.append(f"- {int(size):,} repositories, {name}: {check}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run, write ``--output`` and the plots beside it, print the tables; 0 even when a target is
    missed (that is a figure)."""
    args = parse_args(argv)
    results = run(args)
    publish(args.output, results, report(results))
    for path in write_plots(results, args.output.parent):
        print(f"plot: {path}")
    return 0


def _at_least(ratios: dict[str, float] | None, floor: float) -> dict[str, Any]:
    met = ratios is not None and all(ratios[q] >= floor for q in ("median", "p99"))
    return {"figure": ratios, "target": f">= {floor} (peer / ours, p50 and p99)", "met": met}


if __name__ == "__main__":
    sys.exit(main())
