"""Soak (issue 6): notifications and queries together for minutes, memory sampled: ``python -m bench.soak``.

    python -m bench.soak                    # 10 minutes: 200 notifications/s, 100 queries/s, 5 real pushes/s
    python -m bench.soak --duration 5 --warmup 1 --notification-rate 20 --query-rate 10 --push-rate 2 \\
        --sample-interval 1 --repositories 20 --churn-repositories 3 --output /tmp/soak.json   # a smoke run

A real registry (kept in ``--cache``: ``bench.registry_cache``) holds
``--repositories`` × ``--tags-per-repo`` realistic images; a fresh
``regsearch serve`` backfills them, and ``--churn-repositories`` more are
pushed under ``soak-churn/``. Then, for ``--warmup`` plus ``--duration``
seconds, three open loops run at once (``bench.open_loop``: requests on a
fixed schedule, latency from the time each was due, so a stall is not
hidden by the requests it delayed):

- notifications at ``--notification-rate``: envelopes as distribution 2.8
  sends them, about manifests that are in the registry, mostly pulls
  (``bench.soak_traffic``). Pushing 200 images a second through a real
  registry is out of reach of 2 cores shared with the service (a push is
  5 to 10 requests; the registry's own notifications go out one at a time);
  the receiver, the event log and the indexer see what they would see;
- real pushes at ``--push-rate`` through the registry's API: tag moves,
  deletes and re-pushes (``bench.soak_churn``), which the registry itself
  notifies and the indexer fetches;
- queries at ``--query-rate`` from a fixed set: ``/api/v1/search`` with
  facets and filters, ``/api/v1/suggest``, ``/v1/search``.

Memory and CPU are sampled every ``--sample-interval`` seconds
(``bench.soak_sampler``). Afterwards the run waits until the service is quiet
and checks that the index holds every tag the registry holds, with the same
digest, and every pull it acknowledged (``bench.soak_consistency``).
Every non-2xx answer or failed request is an error. Targets: zero errors,
memory growth under 10 %. Figures go to ``--output`` (JSON) and are printed
as the Markdown section of ``bench/RESULTS.md`` (``bench.soak_report``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.corpus import debian_packages
from bench.features import Request
from bench.image_specs import ImageSpec, LoadPlan, plan_images
from bench.kafka_ingest import Window
from bench.machine import describe_machine, load_average
from bench.open_loop import OK, HttpConnection, OpenLoop, Record, Send, errors_by_kind, loop_figures
from bench.output import publish
from bench.pipeline import stage_figures, stage_histograms, wait_quiet, webhook_counters
from bench.registry_cache import DEFAULT_CACHE, forget_namespace, loaded_registry
from bench.soak_churn import CHURN_NAMESPACE, ChurnPusher, ChurnRepository, churn_sender, churn_specs, push_churn
from bench.soak_consistency import PullAccount, check_consistency
from bench.soak_report import markdown_section
from bench.soak_sampler import ResourceSampler, cpu_figures, memory_figures
from bench.soak_traffic import NotificationMaker, NotificationMix, notification_headers, query_path, registry_truth, soak_queries
from bench.stack import BenchStack, running_stack

START_GRACE_S = 1.0
JOIN_GRACE_S = 60.0


@dataclass(frozen=True)
class SoakPlan:
    """How long, how fast, on how much: every amount of one soak run."""

    duration_s: float = 600.0
    warmup_s: float = 30.0
    notification_rate: float = 200.0
    query_rate: float = 100.0
    push_rate: float = 5.0
    sample_interval_s: float = 10.0
    repositories: int = 1000
    tags_per_repo: int = 2
    churn_repositories: int = 20
    delete_every: int = 10
    notification_workers: int = 8
    query_workers: int = 8
    push_workers: int = 2
    seed: int = 1
    mix: NotificationMix = field(default_factory=NotificationMix)
    setup_timeout_s: float = 1800.0
    drain_timeout_s: float = 300.0
    target_memory_growth: float = 0.10

    def __post_init__(self) -> None:
        if self.duration_s <= 0 or self.warmup_s < 0 or self.sample_interval_s <= 0:
            raise ValueError(f"SoakPlan needs a positive duration and sample interval: {self}")
        if self.notification_rate <= 0 or self.query_rate <= 0 or self.push_rate < 0:
            raise ValueError(f"SoakPlan needs positive notification and query rates: {self}")
        if self.push_rate > 0 and self.churn_repositories < 1:
            raise ValueError("real pushes (--push-rate) need at least one --churn-repositories")
        if self.delete_every < 0:
            raise ValueError("SoakPlan.delete_every must be 0 (never) or more")

    def load_plan(self) -> LoadPlan:
        """The kept registry's plan: the pre-pushed repositories."""
        return LoadPlan(repositories=self.repositories, tags_per_repo=self.tags_per_repo, seed=self.seed)


@dataclass(frozen=True)
class Setup:
    """What the soak runs against, once the service has indexed it."""

    stack: BenchStack
    churn: list[ChurnRepository]
    queries: list[Request]
    maker: NotificationMaker
    figures: dict[str, Any]


def run(plan: SoakPlan, cache: Path, workdir: Path) -> dict[str, Any]:
    """Load (or reuse) the registry, start the service, soak it, check it; every figure."""
    if (workdir / "data").exists():
        raise SystemExit(f"{workdir / 'data'} exists: the soak needs an empty index (its pull counts are "
                         "checked); remove it or pick another --workdir")
    everything = plan_images(replace(plan.load_plan(), repositories=plan.repositories + plan.churn_repositories),
                             debian_packages())
    specs = everything[: plan.repositories]
    directory, load = loaded_registry(cache, plan.load_plan(), specs)
    forget_namespace(directory, CHURN_NAMESPACE)  # left by a run that was killed
    try:
        with running_stack(workdir, registry_dir=directory) as stack:
            setup = _set_up(stack, plan, specs, everything[plan.repositories:])
            results = _soak(setup, plan)
    finally:
        forget_namespace(directory, CHURN_NAMESPACE)
    return {"machine": describe_machine(), "parameters": asdict(plan), "load": load, "setup": setup.figures,
            "workdir": str(workdir), **results}


def _set_up(stack: BenchStack, plan: SoakPlan, specs: list[ImageSpec], spare: list[ImageSpec]) -> Setup:
    tags = plan.repositories * plan.tags_per_repo
    _say(f"backfill of {tags} tags from an empty index")
    indexed, backfill_s = stack.wait_indexed("tag", tags, plan.setup_timeout_s)
    if indexed < tags:
        raise RuntimeError(f"the backfill indexed {indexed} of {tags} tags in {plan.setup_timeout_s:g} s")
    _say(f"pushing {plan.churn_repositories} repositories under {CHURN_NAMESPACE}/ for real pushes")
    churn = push_churn(ChurnPusher(stack.registry.url), churn_specs(spare, plan.seed))
    churn_tags = sum(len(r.versions) + 1 for r in churn)
    indexed, _ = stack.wait_indexed("tag", tags + churn_tags, plan.setup_timeout_s)
    settled, _ = wait_quiet(stack, timeout_s=plan.setup_timeout_s)
    truth = registry_truth(stack.registry.url, [spec.repository for spec in specs])
    manifests = [manifest for tags_of in truth.values() for manifest in tags_of.values()]
    maker = NotificationMaker(manifests, stack.registry.url, plan.mix, plan.seed)
    figures = {"backfill_s": round(backfill_s, 1), "indexed_tags": indexed, "expected_tags": tags + churn_tags,
               "churn_repositories": len(churn), "settled": settled}
    return Setup(stack, churn, soak_queries(specs, plan.seed), maker, figures)


def _soak(setup: Setup, plan: SoakPlan) -> dict[str, Any]:
    stack = setup.stack
    begin = time.monotonic() + START_GRACE_S
    window = Window(begin, begin + plan.warmup_s, begin + plan.warmup_s + plan.duration_s)
    counters, stages = webhook_counters(stack.service.url), stage_histograms(stack.service.url)
    log_offset = stack.registry.log_path.stat().st_size if stack.registry.log_path.exists() else 0
    loops = _loops(setup, plan, window)
    sampler = ResourceSampler(stack, window, plan.sample_interval_s)
    _say(f"soak: {plan.warmup_s:g} s warm-up, then {plan.duration_s:g} s timed")
    for loop in loops.values():
        loop.start()
    sampler.start()
    records = {name: loop.join(window.end - time.monotonic() + JOIN_GRACE_S) for name, loop in loops.items()}
    samples = sampler.join(JOIN_GRACE_S)
    _say("waiting until the service is quiet, then checking the index against the registry")
    quiet, drain_s = wait_quiet(stack, timeout_s=plan.drain_timeout_s)
    delta = _counter_delta(counters, webhook_counters(stack.service.url))
    consistency = _consistency(setup, records["notifications"], plan)
    figures = {name: loop_figures(records[name], window, loop.rate, loop.workers) for name, loop in loops.items()}
    return {
        **figures,
        "memory": memory_figures(samples, plan.target_memory_growth),
        "memory_after_drain_mib": stack.service.memory_mib(),
        "cpu": cpu_figures(samples),
        "samples": samples,
        "sampler_failures": sampler.failures,
        "webhook_counters": delta,
        "stages": stage_figures(stages, stage_histograms(stack.service.url)),
        "drain": {"quiet": quiet, "seconds": round(drain_s, 1)},
        "consistency": consistency,
        "registry_log": _registry_log(stack, log_offset),
        "errors": _errors(records, delta),
        "load_average_after": load_average(),
    }


def _loops(setup: Setup, plan: SoakPlan, window: Window) -> dict[str, OpenLoop[Any]]:
    service = setup.stack.service
    loops: dict[str, OpenLoop[Any]] = {
        "notifications": OpenLoop("notifications", plan.notification_rate, plan.notification_workers, window,
                                  lambda: HttpConnection(service.url), _notify(setup.maker, service.notify_url, service.token)),
        "queries": OpenLoop("queries", plan.query_rate, plan.query_workers, window,
                            lambda: HttpConnection(service.url), _query(setup.queries)),
    }
    if plan.push_rate > 0:
        pusher = ChurnPusher(setup.stack.registry.url)
        loops["real_pushes"] = OpenLoop("real-pushes", plan.push_rate, plan.push_workers, window,
                                        lambda: pusher, churn_sender(setup.churn, plan.delete_every))
    return loops


def _notify(maker: NotificationMaker, notify_url: str, token: str) -> Send[HttpConnection]:
    path, headers = urlsplit(notify_url).path, notification_headers(token)

    def send(connection: HttpConnection, number: int) -> tuple[str, str]:
        kind, body = maker.envelope(number)
        return kind, connection.request("POST", path, body, headers)

    return send


def _query(queries: list[Request]) -> Send[HttpConnection]:
    def send(connection: HttpConnection, number: int) -> tuple[str, str]:
        request = queries[number % len(queries)]
        return request.path, connection.request("GET", query_path(request))

    return send


def _consistency(setup: Setup, notifications: list[Record], plan: SoakPlan) -> dict[str, Any]:
    pulls = [r for r in notifications if r.label == "pull"]
    account = PullAccount(sum(r.outcome == OK for r in pulls), sum(r.outcome != OK for r in pulls))
    pulled = sorted({m.repository for m in setup.maker.manifests})
    repositories = pulled + [r.name for r in setup.churn]
    return check_consistency(setup.stack, repositories, pulled, account, plan.drain_timeout_s)


def _counter_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, int]:
    return {key: int(value - before.get(key, 0)) for key, value in sorted(after.items()) if value != before.get(key, 0)}


def _errors(records: dict[str, list[Record]], counters: dict[str, int]) -> dict[str, Any]:
    """Every failed request of every loop (warm-up included) by loop and kind, and events dead-lettered."""
    by_loop = {name: errors_by_kind(chosen) for name, chosen in records.items()}
    dead = counters.get('regsearch_webhook_events_total{outcome="dead_lettered"}', 0)
    total = sum(sum(kinds.values()) for kinds in by_loop.values()) + dead
    return {"total": total, "by_loop": by_loop, "dead_lettered_events": dead}


def _registry_log(stack: BenchStack, offset: int) -> dict[str, Any]:
    """What the registry logged at warning or error level during the soak: answers it gave with an
    error status (``client_errors``: e.g. the indexer asking for a tag just deleted, as it should),
    apart from everything else (``warnings``: failed notification deliveries among them)."""
    with stack.registry.log_path.open("rb") as log:
        log.seek(offset)
        lines = log.read().decode(errors="replace").splitlines()
    flagged = [line for line in lines if "level=error" in line or "level=warn" in line]
    answers = [line for line in flagged if 'msg="response completed with error"' in line]
    others = [line for line in flagged if line not in answers]
    return {"warnings": len(others), "examples": [line[:300] for line in others[:5]], "client_errors": len(answers)}


def _say(message: str) -> None:
    print(f"bench.soak: {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of ``python -m bench.soak``."""
    defaults = SoakPlan()
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=defaults.duration_s, help="seconds timed, after the warm-up")
    parser.add_argument("--warmup", type=float, default=defaults.warmup_s, help="seconds of load before timing")
    parser.add_argument("--notification-rate", type=float, default=defaults.notification_rate)
    parser.add_argument("--query-rate", type=float, default=defaults.query_rate)
    parser.add_argument("--push-rate", type=float, default=defaults.push_rate, help="real registry operations/s; 0: none")
    parser.add_argument("--sample-interval", type=float, default=defaults.sample_interval_s)
    parser.add_argument("--repositories", type=int, default=defaults.repositories, help="pre-pushed, in the kept registry")
    parser.add_argument("--tags-per-repo", type=int, default=defaults.tags_per_repo)
    parser.add_argument("--churn-repositories", type=int, default=defaults.churn_repositories)
    parser.add_argument("--delete-every", type=int, default=defaults.delete_every,
                        help="every n-th real operation on a repository deletes a version; 0: never")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--drain-timeout", type=float, default=defaults.drain_timeout_s)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a new temporary directory, kept")
    parser.add_argument("--output", type=Path, default=Path("bench/soak.json"))
    return parser.parse_args(argv)


def plan_from(args: argparse.Namespace) -> SoakPlan:
    """The ``SoakPlan`` a command line asks for."""
    return SoakPlan(duration_s=args.duration, warmup_s=args.warmup, notification_rate=args.notification_rate,
                    query_rate=args.query_rate, push_rate=args.push_rate, sample_interval_s=args.sample_interval,
                    repositories=args.repositories, tags_per_repo=args.tags_per_repo,
                    churn_repositories=args.churn_repositories, delete_every=args.delete_every, seed=args.seed, drain_timeout_s=args.drain_timeout)


def main(argv: list[str] | None = None) -> int:
    """Run the soak, write the figures, print the Markdown section; 0 whether or not a target is met."""
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="regsearch-soak-"))
    _say(f"service data and logs in {workdir}")
    results = run(plan_from(args), args.cache, workdir)
    publish(args.output, results, markdown_section(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
