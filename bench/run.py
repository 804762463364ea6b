"""Run the benchmarks, write the figures to a JSON file and print a summary.

    python -m bench.run [--pushes 200 --rate 20 --tags 10000 --output bench/results.json]

Starts a real registry and a real ``regsearch serve`` on 127.0.0.1 in a
temporary directory, loads the registry, times ``/v1/search`` and the catalog
walk, then times push-to-searchable on the loaded index.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.compare import compare
from bench.corpus import Package, debian_packages, pick
from bench.freshness import FreshnessPlan, measure_freshness
from bench.images import RegistryPusher
from bench.machine import describe_machine, load_average
from bench.output import publish
from bench.pipeline import wait_quiet
from bench.query_latency import (
    QueryPlan,
    bulk_specs,
    load_registry,
    measure_catalog_walk,
    measure_queries,
    query_set,
)
from bench.stack import BenchStack, running_stack

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results.json"
PEER_LIMIT = 25  # the result limit of /v1/search as the query phase asks it


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; every size has a flag so a smoke run can be tiny."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=200, help="images pushed for the freshness figure")
    parser.add_argument("--rate", type=float, default=20.0, help="freshness pushes per second")
    parser.add_argument("--freshness-timeout", type=float, default=30.0, help="seconds to wait after the last push")
    parser.add_argument("--probe-pushes", type=int, default=20, help="pushes of the low-rate freshness probe (0: none)")
    parser.add_argument("--probe-rate", type=float, default=2.0, help="pushes per second of the probe")
    parser.add_argument("--tags", type=int, default=10_000, help="tags loaded before timing queries")
    parser.add_argument("--tags-per-repo", type=int, default=5)
    parser.add_argument("--load-threads", type=int, default=16)
    parser.add_argument("--index-timeout", type=float, default=900.0, help="seconds to wait for the load to be searchable")
    parser.add_argument("--queries", type=int, default=2000, help="timed /v1/search requests (sequential, then concurrent)")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients for the second query run")
    parser.add_argument("--baseline-queries", type=int, default=30, help="timed catalog walks")
    parser.add_argument("--peer-rounds", type=int, default=20,
                        help="rounds of the query set for the in-process comparison with SQL LIKE and FTS5")
    parser.add_argument("--seed", type=int, default=42, help="picks the Debian packages and queries")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="results file (JSON)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep registry and service data here")
    return parser.parse_args(argv)


def plans(args: argparse.Namespace) -> tuple[FreshnessPlan, FreshnessPlan, QueryPlan]:
    """The freshness probe's, freshness's and query latency's plans from the command line."""
    probe = FreshnessPlan(pushes=args.probe_pushes, rate=args.probe_rate, timeout_s=args.freshness_timeout, prefix="probe/")
    freshness = FreshnessPlan(pushes=args.pushes, rate=args.rate, timeout_s=args.freshness_timeout)
    query = QueryPlan(
        tags=args.tags, tags_per_repo=args.tags_per_repo, load_threads=args.load_threads,
        index_timeout_s=args.index_timeout, requests=args.queries, warmup=args.warmup,
        clients=args.clients, baseline_queries=args.baseline_queries,
    )
    return probe, freshness, query


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every benchmark against one stack, in order: load, queries, catalog walk, freshness probe, freshness.

    Each freshness run starts once the service has gone quiet, so it does not
    queue behind notifications left over from what ran before.
    """
    probe_plan, freshness_plan, query_plan = plans(args)
    load_before = load_average()
    sizes = (query_plan.repositories, probe_plan.pushes, freshness_plan.pushes)
    packages = pick(debian_packages(), sum(sizes), args.seed)
    bulk, probed = packages[: sizes[0]], packages[sizes[0] : sizes[0] + sizes[1]]
    fresh = packages[sizes[0] + sizes[1] :]
    with tempfile.TemporaryDirectory(prefix="regsearch-bench-") as scratch:
        root = args.workdir or Path(scratch)
        with running_stack(root) as stack:
            pusher = RegistryPusher(stack.registry.url)
            pusher.seed()
            _say(f"loading {query_plan.tags} tags in {query_plan.repositories} repositories")
            load = load_registry(stack, pusher, bulk_specs(bulk, query_plan), query_plan)
            memory_loaded = stack.service.memory_mib()
            queries = query_set(bulk, args.seed)
            _say(f"timing {query_plan.requests} /v1/search requests, then the catalog walk")
            search = measure_queries(stack, queries, query_plan)
            baseline = measure_catalog_walk(stack, queries, query_plan)
            _say("timing Registry Search in-process beside SQL LIKE and FTS5 on the same documents")
            peers = compare(root / "data", [(q.category, q.text) for q in queries], PEER_LIMIT, args.peer_rounds)
            probe = _freshness(stack, pusher, probed, probe_plan) if probe_plan.pushes else None
            freshness = _freshness(stack, pusher, fresh, freshness_plan)
            memory_end = stack.service.memory_mib()
            _check_service(stack)
    return {
        "machine": {**describe_machine(), "load_average_before": load_before, "load_average_after": load_average()},
        "parameters": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "load": load,
        "query": {**search, "catalog_walk": baseline, "speedup_p50": _ratio(baseline, search, "median"),
                  "speedup_p99": _ratio(baseline, search, "p99"), "in_process": peers},
        "freshness": freshness,
        "freshness_probe": probe,
        "memory_mib": {"after_load": memory_loaded, "at_end": memory_end},
    }


def report(results: dict[str, Any]) -> str:
    """A plain-text table of the headline figures."""
    m, q, f, load = results["machine"], results["query"], results["freshness"], results["load"]
    seq, con, walk = q["sequential"], q["concurrent"], q["catalog_walk"]["latency_ms"]
    lat = f["latency_s"]
    rows = [
        ("freshness median / p90 / p99 / max (s)", _quad(lat), f"p99 <= {f['target_p99_s']} s", _yes(f["met"])),
        ("  pushes seen / pushed, rate achieved", f"{f['seen']} / {f['pushes']}, {f['achieved_rate']}/s", "", ""),
        *_probe_rows(results["freshness_probe"]),
        ("/v1/search sequential p50/p90/p99/max (ms)", _quad(seq["latency_ms"]), f"p99 <= {q['target_p99_ms']} ms", _yes(q["met"])),
        ("  sequential throughput", f"{seq['requests_per_s']} req/s", "", ""),
        (f"/v1/search {con['clients']} clients p50/p90/p99/max (ms)", _quad(con["latency_ms"]), f"p99 <= {q['target_p99_ms']} ms", _yes(q["met_with_clients"])),
        (f"  {con['clients']}-client throughput", f"{con['requests_per_s']} req/s", "", ""),
        ("catalog walk p50/p90/p99/max (ms)", _quad(walk), "", ""),
        ("  speedup of /v1/search (p50, p99)", f"{q['speedup_p50']}x, {q['speedup_p99']}x", "", ""),
        *_peer_rows(q["in_process"]),
        ("load: tags, push s, searchable s", f"{load['indexed_tags']}/{load['tags']}, {load['push_s']}, {load['searchable_s']}", "", ""),
        ("service RSS after load / peak (MiB)", f"{results['memory_mib']['after_load']['rss']} / {results['memory_mib']['at_end']['hwm']}", "", ""),
    ]
    header = (f"Registry Search benchmark, {m['date']}, {m['nproc']} x {m['cpu_model']}, Python {m['python']}, "
              f"load average before/after {m['load_average_before'][0]}/{m['load_average_after'][0]}")
    width = max(len(r[0]) for r in rows)
    lines = [header, ""] + [f"{a:<{width}}  {b:<28} {c:<16} {d}".rstrip() for a, b, c, d in rows]
    return "\n".join(lines)


def _peer_rows(comparison: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = [(f"in-process, {comparison['documents']} repositories, limit {comparison['limit']}:", "", "", "")]
    for name, figures in comparison["peers"].items():
        latency, ratio = figures["latency_ms"], figures["vs_registry_search"]
        rows.append((f"  {name} p50/p90/p99/max (ms)", _quad(latency),
                     f"x{ratio['median']} / x{ratio['p99']}" if name != "registry-search" else "", ""))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run, write ``--output``, print the table; 0 even when a target is missed (that is a figure)."""
    args = parse_args(argv)
    results = run(args)
    publish(args.output, results, report(results))
    return 0


def _freshness(stack: BenchStack, pusher: RegistryPusher, packages: list[Package], plan: FreshnessPlan) -> dict[str, Any]:
    settled, waited = wait_quiet(stack, timeout_s=plan.timeout_s * 4)
    _say(f"pushing {plan.pushes} images at {plan.rate}/s to {plan.prefix} for freshness")
    return {**measure_freshness(stack, pusher, packages, plan), "settled_before": settled, "waited_before_s": round(waited, 1)}


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _check_service(stack: BenchStack) -> None:
    if "Traceback" in stack.service.log():
        print("warning: the service logged a traceback; see its log", file=sys.stderr)


def _ratio(baseline: dict[str, Any], search: dict[str, Any], figure: str) -> float | None:
    slow, fast = baseline["latency_ms"].get(figure), search["sequential"]["latency_ms"].get(figure)
    return round(slow / fast, 1) if slow and fast else None


def _probe_rows(probe: dict[str, Any] | None) -> list[tuple[str, str, str, str]]:
    if probe is None:
        return []
    title = f"  at {probe['rate']:g}/s ({probe['seen']}/{probe['pushes']} seen) med/p90/p99/max (s)"
    return [(title, _quad(probe["latency_s"]), "", "")]


def _quad(figures: dict[str, float]) -> str:
    return " / ".join(str(figures.get(k, "-")) for k in ("median", "p90", "p99", "max"))


def _yes(met: bool) -> str:
    return "met" if met else "NOT met"


if __name__ == "__main__":
    sys.exit(main())
