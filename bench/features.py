"""The search features of issue 5 over HTTP: ``python -m bench.features``.

On a kept registry (``bench/registry_cache.py``; default 10,000 repositories
× 10 tags = 100,000 tags), a fresh ``regsearch serve`` backfills, settles,
and then each endpoint is timed with a fixed request set drawn from the
loaded images' own names and labels: ``/api/v1/search`` with filters and
facets, ``/api/v1/suggest`` for prefixes of 1 to 5 letters, ``/v1/search``
with plain words. Sequential requests give p50/p99 (after one untimed
round); 4 clients at once give requests per second. Requests go over
keep-alive ``http.client`` connections, beside an empty round trip
(``/healthz``): the floor under every figure. Beside each, the simple
alternative a client has without the feature, in the same run: facets
counted by the client from every match (fetched 100 a page), suggestions
as a prefix query (``q=ngi*``).

Figures go to ``--output`` (JSON) and are printed as a Markdown table. A
``--workdir`` kept from an earlier run is reused as it is: its index is
timed again without a backfill (``index_reused`` in the figures).
Targets: search with facets p99 ≤ 30 ms, suggest p99 ≤ 5 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit


from bench.corpus import debian_packages
from bench.image_specs import ImageSpec, LoadPlan, plan_images
from bench.machine import describe_machine
from bench.pipeline import wait_quiet
from bench.registry_cache import loaded_registry
from bench.stack import BenchStack, running_stack
from bench.stats import summary

TIMEOUT_S = 60
TARGETS_MS = {"search with facets": 30.0, "suggest": 5.0}
HTTP_FLOOR = "HTTP floor (/healthz)"


@dataclass(frozen=True)
class Request:
    """One timed request: which feature it stands for, the path and the parameters."""

    feature: str
    path: str
    params: tuple[tuple[str, str], ...]


def request_set(specs: list[ImageSpec], seed: int) -> list[Request]:
    """The fixed requests of one run, from the images' names, words and labels."""
    rng = random.Random(seed)
    names = [spec.repository for spec in specs]
    words = [w for spec in rng.sample(specs, min(40, len(specs))) for w in spec.description.split()[:3] if w.isalpha()]
    teams = sorted({spec.team for spec in specs})
    requests_: list[Request] = []
    for word in rng.sample(words, min(8, len(words))):
        requests_.append(Request("search with facets", "/api/v1/search", (("q", word.lower()), ("facets", "true"))))
        requests_.append(Request("search, filters", "/api/v1/search",
                                 (("q", word.lower()), ("arch", "arm64"), ("namespace", "library"))))
        requests_.append(Request("docker /v1/search", "/v1/search", (("q", word.lower()),)))
    for team in rng.sample(teams, min(4, len(teams))):
        requests_.append(Request("search with facets", "/api/v1/search",
                                 (("q", ""), ("label", f"com.example.team={team}"), ("facets", "true"))))
        requests_.append(Request("search, filters", "/api/v1/search", (("q", f"namespace:{team} arch:amd64"),)))
    for name in rng.sample(names, min(12, len(names))):
        last = name.rsplit("/", 1)[-1]
        for length in (1, 3, 5):
            requests_.append(Request("suggest", "/api/v1/suggest", (("prefix", last[:length]),)))
            requests_.append(Request("prefix query (suggest's alternative)", "/api/v1/search", (("q", last[:length] + "*"),)))
    # the floor under every figure: an HTTP round trip through waitress and Flask that does nothing
    requests_ += [Request(HTTP_FLOOR, "/healthz", ())] * 20
    return requests_


class KeepAlive:
    """One keep-alive HTTP connection: ``requests`` spends ~1.5 ms of its own per call here, more
    than some of the answers timed, so the figures would be the client's."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self._connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=TIMEOUT_S)

    def get(self, path: str, params: Sequence[tuple[str, str]]) -> bytes:
        """The body of ``GET path?params``; raises on any status but 200."""
        self._connection.request("GET", f"{path}?{urlencode(params)}" if params else path)
        response = self._connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path} {params}: HTTP {response.status}: {body[:200]!r}")
        return body


def _timed(client: KeepAlive, request: Request) -> float:
    began = time.perf_counter()
    client.get(request.path, request.params)
    return time.perf_counter() - began


def _client_facets(client: KeepAlive, request: Request) -> float:
    """Facets the way a client computes them without the feature: page through every match, count."""
    params = [p for p in request.params if p[0] != "facets"]
    began = time.perf_counter()
    counts: Counter[str] = Counter()
    offset = 0
    while True:
        page = json.loads(client.get(request.path, [*params, ("limit", "100"), ("offset", str(offset))]))
        for result in page["results"]:
            counts.update(p["architecture"] for p in result["platforms"])
        offset += 100
        if offset >= page["total"]:
            return time.perf_counter() - began


def measure(stack: BenchStack, requests_: list[Request], rounds: int, clients: int) -> dict[str, Any]:
    """Latency per feature (sequential rounds) and requests/s per feature (``clients`` at once)."""
    base = stack.service.url
    client = KeepAlive(base)
    for request in requests_:  # first-use costs (filters, orders, facet values) are not a request's
        _timed(client, request)
    by_feature: dict[str, list[float]] = {}
    for _ in range(rounds):
        for request in requests_:
            by_feature.setdefault(request.feature, []).append(_timed(client, request))
    facet_requests = [r for r in requests_ if r.feature == "search with facets"]
    by_feature["facets counted by the client (alternative)"] = [
        _client_facets(client, r) for r in facet_requests[: max(1, len(facet_requests) // 2)]
    ]
    figures: dict[str, Any] = {}
    for feature, seconds in by_feature.items():
        figures[feature] = {"latency_ms": summary(seconds, scale=1000.0)}
    for feature in {r.feature for r in requests_}:
        chosen = [r for r in requests_ if r.feature == feature] * rounds
        figures[feature]["requests_per_s"] = _throughput(base, chosen, clients)
        target = TARGETS_MS.get(feature)
        if target is not None:
            figures[feature]["target_p99_ms"] = target
            figures[feature]["met"] = figures[feature]["latency_ms"]["p99"] <= target
    return figures


def _throughput(base: str, chosen: list[Request], clients: int) -> float:
    connections = [KeepAlive(base) for _ in range(clients)]
    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:  # the i-th request on connection i % clients: one thread each
        list(pool.map(lambda i: [_timed(connections[i], r) for r in chosen[i::clients]], range(clients)))
    return round(len(chosen) / (time.perf_counter() - began), 1)


def run(plan: LoadPlan, cache: Path, workdir: Path, rounds: int, clients: int, timeout_s: float) -> dict[str, Any]:
    """Load (or reuse) the registry, backfill a fresh service, time every feature."""
    specs = plan_images(plan, debian_packages())
    directory, load = loaded_registry(cache, plan, specs)
    tags = plan.repositories * plan.tags_per_repo
    reused = (workdir / "data" / "index").exists()  # a kept workdir: its index, no backfill
    with running_stack(workdir, registry_dir=directory) as stack:
        indexed, waited = stack.wait_indexed("tag", tags, timeout_s)
        settled, _ = wait_quiet(stack, timeout_s=timeout_s)
        requests_ = request_set(specs, plan.seed)
        figures = measure(stack, requests_, rounds, clients)
        memory = stack.service.search_process_memory_mib()
    return {"machine": describe_machine(), "repositories": plan.repositories, "tags": tags,
            "indexed": indexed, "index_reused": reused, "backfill_s": None if reused else round(waited, 1),
            "settled": settled, "load": load,
            "rounds": rounds, "clients": clients, "requests": len(requests_), "features": figures,
            "memory_mib": memory}


def table(results: dict[str, Any]) -> str:
    """The figures as Markdown: one row per feature."""
    built = ("index reused from an earlier run's backfill" if results.get("index_reused")
             else f"backfilled in {results['backfill_s']:,} s")
    lines = [f"{results['repositories']:,} repositories, {results['tags']:,} tags ({built}); "
             f"{results['rounds']} rounds, {results['clients']} clients for req/s", "",
             "| feature | p50 ms | p99 ms | req/s | target p99 |", "|---|---|---|---|---|"]
    for feature, figures in results["features"].items():
        latency = figures["latency_ms"]
        target = figures.get("target_p99_ms")
        verdict = "" if target is None else f"≤ {target:g} ms: {'met' if figures['met'] else 'missed'}"
        lines.append(f"| {feature} | {latency['median']:.2f} | {latency['p99']:.2f} | "
                     f"{figures.get('requests_per_s', '')} | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repositories", type=int, default=10_000)
    parser.add_argument("--tags-per-repo", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds the backfill may take")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "regsearch-bench")
    parser.add_argument("--workdir", type=Path, default=Path("bench-features-work"))
    parser.add_argument("--output", type=Path, default=Path("bench/features.json"))
    args = parser.parse_args(argv)
    plan = LoadPlan(repositories=args.repositories, tags_per_repo=args.tags_per_repo, seed=args.seed)
    results = run(plan, args.cache, args.workdir, args.rounds, args.clients, args.timeout)
    args.output.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
