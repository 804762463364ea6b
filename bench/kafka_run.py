"""Benchmark the distributed (Kafka) mode against the embedded one, write the figures, print a summary.

    python -m bench.kafka_run [--duration 20 --clients 1,4,16 --pushes 300 --rate 50 --output bench/kafka_results.json]

Uses the Kafka cluster in ``KAFKA_BOOTSTRAP_SERVERS``, or starts a broker of
its own with ``scripts/kafka-local`` in the run directory and stops it at the
end. Then, on 127.0.0.1: webhook ingest into one ``regsearch webhooks``
process and into the embedded ``regsearch serve``; push-to-searchable through
webhooks → Kafka → indexer → Kafka → search-api, and through ``regsearch serve``.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.corpus import Package, debian_packages, pick
from bench.freshness import FreshnessPlan
from bench.kafka_freshness import TOKEN, FreshnessRun, KafkaOptions, kafka_service, measure_after_preload, running_kafka_stack
from bench.kafka_ingest import IngestPlan, Target, body_size, measure_ingest
from bench.machine import describe_machine, load_average
from bench.output import publish
from bench.pipeline import webhook_counters
from bench.stack import MeasuredService, running_stack
from tests.support.kafka import kafka_bootstrap
from tests.support.ports import free_port
from tests.support.registry import RegistryProcess

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "kafka_results.json"
REPO_ROOT = Path(__file__).resolve().parents[1]
FLOOR_START_S = 30.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; every size has a flag so a smoke run can be tiny."""
    parser = argparse.ArgumentParser(prog="python -m bench.kafka_run", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,4,16", help="concurrent ingest clients, one timed run per value")
    parser.add_argument("--client-processes", type=int, default=2, help="load generator processes sharing the clients")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of each timed ingest run")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before each timed ingest run")
    parser.add_argument("--repositories", type=int, default=1000, help="distinct repositories the ingest events name")
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True,
                        help="one more run at the most clients with py-spy sampling the receiver")
    parser.add_argument("--pushes", type=int, default=300, help="images pushed for the freshness figure")
    parser.add_argument("--rate", type=float, default=50.0, help="freshness pushes per second")
    parser.add_argument("--freshness-timeout", type=float, default=60.0, help="seconds to wait after the last push")
    parser.add_argument("--preload-tags", type=int, default=2000, help="tags indexed before the freshness pushes")
    parser.add_argument("--tags-per-repo", type=int, default=5)
    parser.add_argument("--index-timeout", type=float, default=600.0, help="seconds to wait for the preload")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of the Kafka topics")
    parser.add_argument("--seed", type=int, default=42, help="picks the Debian packages")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="results file (JSON)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep broker, registry and service data here")
    args = parser.parse_args(argv)
    if args.profile and shutil.which("py-spy") is None:
        parser.error("--profile needs py-spy (pip install py-spy), or pass --no-profile")
    return args


def ingest_plans(args: argparse.Namespace) -> list[IngestPlan]:
    """One plan per ``--clients`` value."""
    return [
        IngestPlan(clients=int(c), processes=args.client_processes, duration_s=args.duration,
                   warmup_s=args.warmup, repositories=args.repositories)
        for c in args.clients.split(",")
    ]


def freshness_run(args: argparse.Namespace) -> FreshnessRun:
    """The preload and the paced pushes from the command line."""
    plan = FreshnessPlan(pushes=args.pushes, rate=args.rate, timeout_s=args.freshness_timeout)
    return FreshnessRun(preload_tags=args.preload_tags, tags_per_repo=args.tags_per_repo,
                        index_timeout_s=args.index_timeout, freshness=plan)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Ingest (Kafka, then embedded), then freshness (Kafka, then embedded), on one broker."""
    load_before = load_average()
    fresh = freshness_run(args)
    packages = _packages(fresh, args.seed)
    with tempfile.TemporaryDirectory(prefix="regsearch-bench-kafka-") as scratch:
        root = args.workdir or Path(scratch)
        with kafka_bootstrap(root / "kafka") as bootstrap:
            broker = _broker_pid(root / "kafka")
            kafka = lambda name: KafkaOptions(bootstrap, f"bench-{name}-{uuid.uuid4().hex[:8]}", args.partitions)  # noqa: E731
            ingest = run_ingest(root / "ingest", kafka("ingest"), broker, args)
            freshness = {
                "kafka": kafka_freshness(root / "fresh-kafka", kafka("fresh"), packages, fresh),
                "embedded": embedded_freshness(root / "fresh-embedded", packages, fresh),
            }
    return {
        "machine": {**describe_machine(), "load_average_before": load_before, "load_average_after": load_average(),
                    "broker": "started by the run" if broker else "KAFKA_BOOTSTRAP_SERVERS"},
        "parameters": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "ingest": ingest,
        "freshness": freshness,
    }


def run_ingest(root: Path, kafka: KafkaOptions, broker: int | None, args: argparse.Namespace) -> dict[str, Any]:
    """Every ingest plan against one ``regsearch webhooks``, then against one ``regsearch serve``.

    Both receivers share an empty registry: the embedded indexer fetches
    every pushed name from it and finds nothing, as it would for deleted images.
    """
    with RegistryProcess(root / "registry") as registry:
        receivers = {
            "kafka": kafka_service(root / "webhooks", registry.url, "webhooks", kafka),
            "embedded": MeasuredService(root / "serve", registry.url, token=TOKEN),
        }
        results = {name: _ingest_runs(service, broker, args, root / f"{name}.pyspy") for name, service in receivers.items()}
    return {"envelope_bytes": body_size(), **results, "floor": _floor_runs(args)}


def kafka_freshness(root: Path, kafka: KafkaOptions, packages: tuple[list[Package], list[Package]], run: FreshnessRun) -> dict[str, Any]:
    """Freshness through webhooks → Kafka → one indexer → Kafka → one search-api."""
    _say(f"Kafka stack: preloading {run.preload_tags} tags, then {run.freshness.pushes} pushes at {run.freshness.rate}/s")
    with running_kafka_stack(root, kafka) as stack:
        figures = measure_after_preload(stack.searching(), stack.receiving(), packages, run)
        return {**figures, "memory_mib": stack.memory_mib(), "partitions": kafka.partitions}


def embedded_freshness(root: Path, packages: tuple[list[Package], list[Package]], run: FreshnessRun) -> dict[str, Any]:
    """The same preload and pushes against ``regsearch serve``."""
    _say(f"embedded stack: preloading {run.preload_tags} tags, then {run.freshness.pushes} pushes at {run.freshness.rate}/s")
    with running_stack(root) as stack:
        figures = measure_after_preload(stack, stack, packages, run)
        return {**figures, "memory_mib": {"serve": stack.service.memory_mib()}}


def _ingest_runs(service: MeasuredService, broker: int | None, args: argparse.Namespace, profile: Path) -> dict[str, Any]:
    plans = ingest_plans(args)
    with _started(service):
        target = Target(service.notify_url, service.token)
        watched = {"receiver": service.pid or 0, **({"broker": broker} if broker else {})}
        before = webhook_counters(service.url)
        runs = []
        for plan in plans:
            _say(f"ingest into {service.role}: {plan.clients} clients, {plan.duration_s:g} s")
            runs.append(measure_ingest(target, plan, watched))
        counters = {k: v - before.get(k, 0) for k, v in webhook_counters(service.url).items()}
        profiled = None
        if args.profile:
            _say(f"ingest into {service.role} again, profiled with py-spy")
            profiled = measure_ingest(target, max(plans, key=lambda p: p.clients), watched, profile)
        return {"role": service.role, "runs": runs, "counters_over_timed_runs": counters, "profiled": profiled,
                "memory_mib": service.memory_mib()}


def _floor_runs(args: argparse.Namespace) -> dict[str, Any]:
    """The same ingest plans against ``bench.floor_receiver``: Flask on waitress doing nothing."""
    with floor_receiver() as (url, pid):
        runs = []
        for plan in ingest_plans(args):
            _say(f"ingest into the floor receiver: {plan.clients} clients, {plan.duration_s:g} s")
            runs.append(measure_ingest(Target(url, TOKEN), plan, {"receiver": pid}))
    return {"role": "bench.floor_receiver (Flask on waitress, answers 202, stores nothing)", "runs": runs}


@contextmanager
def floor_receiver() -> Iterator[tuple[str, int]]:
    """``python -m bench.floor_receiver`` on a free port: its notification URL and pid."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.floor_receiver", str(port)], cwd=REPO_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + FLOOR_START_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("bench.floor_receiver did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/notifications", process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def _started(service: MeasuredService) -> Iterator[MeasuredService]:
    service.start()
    try:
        yield service
    finally:
        service.stop()


def _packages(run: FreshnessRun, seed: int) -> tuple[list[Package], list[Package]]:
    """The preload's packages and the fresh pushes' packages; both stacks get the same."""
    repositories = run.query_plan().repositories
    chosen = pick(debian_packages(), repositories + run.freshness.pushes, seed)
    return chosen[:repositories], chosen[repositories:]


def _broker_pid(run_dir: Path) -> int | None:
    pid_file = run_dir / "pid"
    return int(pid_file.read_text()) if pid_file.exists() else None


def report(results: dict[str, Any]) -> str:
    """A plain-text table of the headline figures."""
    m = results["machine"]
    lines = [f"Registry Search, distributed mode, {m['date']}, {m['nproc']} x {m['cpu_model']}, "
             f"load average before/after {m['load_average_before'][0]}/{m['load_average_after'][0]}", "",
             "ingest (accepted/s; answer ms p50/p90/p99/max; non-202; CPU cores receiver/broker/load generator/machine)"]
    for name in ("kafka", "embedded", "floor"):
        for figures in results["ingest"].get(name, {}).get("runs", []):
            lines.append(f"  {name:<9}{figures['clients']:>3} clients  {_ingest_row(figures)}")
    lines += ["", "push-to-searchable (s, median/p90/p99/max; seen/pushed; pushes started and completed per s)"]
    for name in ("kafka", "embedded"):
        f = results["freshness"][name]
        lines.append(f"  {name:<9} {_quad(f['latency_s'])}  {f['seen']}/{f['pushes']}  started {f['achieved_rate']}/s, "
                     f"completed {f['pushes_completed']['completed_per_s']}/s  "
                     f"target p99 <= {f['target_p99_s']} s: {'met' if f['met'] else 'NOT met'}")
    return "\n".join(lines)


def _ingest_row(figures: dict[str, Any]) -> str:
    latency, cpu = figures["latency_ms"], figures["cpu_cores"]
    cores = "/".join(str(cpu.get(k, "-")) for k in ("receiver", "broker", "load_generator", "machine"))
    return (f"{figures['accepted_per_s']:>8}/s  {_quad(latency)}  non-202 {figures['non_202']}  cores {cores}"
            f"  {'met' if figures['met'] else 'NOT met'}")


def _quad(figures: dict[str, float]) -> str:
    return " / ".join(str(figures.get(k, "-")) for k in ("median", "p90", "p99", "max"))


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run, write ``--output``, print the table; 0 even when a target is missed (that is a figure)."""
    args = parse_args(argv)
    results = run(args)
    publish(args.output, results, report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
