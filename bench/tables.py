"""Markdown tables of a sized benchmark's results, one section per size.

    python -m bench.tables RESULTS_JSON

Reads the results file ``bench/run.py`` writes (``{"machine", "parameters",
"sizes": {"1000": {...}, ...}}``). Any figure may be absent (a phase that
did not run, a latency summary ``{"count": 0}``): it prints as ``n/a`` and
nothing raises. The readers here (``figure``, ``section``, ``sizes``,
``query_peers``) are shared with ``bench/plots.py`` so both see the file alike.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NA = "n/a"
HTTP_LABEL = "Registry Search over HTTP"
QUANTILES = (("p50", "median"), ("p90", "p90"), ("p99", "p99"), ("max", "max"))


# -- reading the results file ------------------------------------------------------------------


def _walk(data: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def figure(data: Any, *path: str) -> float | None:
    """The number at ``path`` in nested mappings; ``None`` if any step is absent or it is not a number."""
    value = _walk(data, path)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def section(data: Any, *path: str) -> Mapping[str, Any]:
    """The mapping at ``path`` in nested mappings; empty if absent, so lookups chain without checks."""
    value = _walk(data, path)
    return value if isinstance(value, Mapping) else {}


def flag(data: Any, *path: str) -> bool | None:
    """The boolean at ``path``; ``None`` if absent."""
    value = _walk(data, path)
    return value if isinstance(value, bool) else None


@dataclass(frozen=True)
class Size:
    """One measured size: its repository and tag counts and every figure measured at it."""

    repositories: int
    tags: int | None
    figures: Mapping[str, Any]


def _size(key: str, figures: Mapping[str, Any]) -> Size | None:
    repositories = figure(figures, "repositories")
    if repositories is None:
        repositories = float(key) if key.isdigit() else None
    if repositories is None:
        return None
    tags = figure(figures, "tags")
    return Size(int(repositories), None if tags is None else int(tags), figures)


def sizes(results: Mapping[str, Any]) -> list[Size]:
    """Every size in ``results["sizes"]``, fewest repositories first.

    The repository count comes from the entry's ``repositories``, else from its
    key; an entry with neither is left out.
    """
    found = (_size(str(key), section(entry)) for key, entry in section(results, "sizes").items())
    return sorted((size for size in found if size is not None), key=lambda size: size.repositories)


def query_peers(size: Size) -> dict[str, Mapping[str, Any]]:
    """Label → figures (``latency_ms``, ``requests_per_s``, ...) of each way a query was answered at ``size``.

    Registry Search over HTTP (sequential requests) first, if measured, then the
    in-process peers in the file's order. Concurrent HTTP requests are not a peer.
    """
    peers: dict[str, Mapping[str, Any]] = {}
    http = section(size.figures, "query", "http", "sequential")
    if http:
        peers[HTTP_LABEL] = http
    for name, figures in section(size.figures, "query", "peers").items():
        peers[str(name)] = section(figures)
    return peers


def query_limit(results: Mapping[str, Any]) -> int | None:
    """The result limit the queries asked for, from the first size that records it."""
    limits = (figure(size.figures, "query", "limit") for size in sizes(results))
    return next((int(limit) for limit in limits if limit is not None), None)


# -- formatting --------------------------------------------------------------------------------


def number(value: float | None) -> str:
    """``value`` to three significant digits, with thousands separators; ``n/a`` if absent."""
    if value is None:
        return NA
    rounded = float(f"{value:.3g}")
    if abs(rounded) >= 100:
        return f"{rounded:,.0f}"
    return f"{rounded:#.3g}".rstrip(".")


def count(value: float | None) -> str:
    """A whole count with thousands separators; ``n/a`` if absent."""
    return NA if value is None else f"{round(value):,}"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    alignment = ["---"] + ["---:"] * (len(header) - 1)
    return [_row(header), _row(alignment), *(_row(row) for row in rows)]


# -- the tables --------------------------------------------------------------------------------


def machine_line(results: Mapping[str, Any]) -> str:
    """One sentence naming the machine, Python and date of the run, from the parts recorded."""
    machine = section(results, "machine")
    parts = [
        f"{count(figure(machine, 'nproc'))} × {machine.get('cpu_model', 'unknown CPU')}",
        f"{number(figure(machine, 'memory_gib'))} GiB memory" if "memory_gib" in machine else "",
        f"Python {machine['python']}" if "python" in machine else "",
        f"kernel {machine['kernel']}" if "kernel" in machine else "",
        str(machine.get("registry", "")),
    ]
    when = f"Measured {machine['date']} on " if "date" in machine else "Measured on "
    return when + ", ".join(part for part in parts if part) + "."


def _latency_cells(figures: Mapping[str, Any]) -> list[str]:
    return [number(figure(figures, "latency_ms", key)) for _, key in QUANTILES]


def _peer_row(label: str, figures: Mapping[str, Any]) -> list[str]:
    ratios = [number(figure(figures, "vs_registry_search", key)) for key in ("median", "p99")]
    return [label, *_latency_cells(figures), number(figure(figures, "requests_per_s")), *ratios]


def _concurrent_label(figures: Mapping[str, Any]) -> str:
    clients = figure(figures, "clients")
    return f"{HTTP_LABEL}, {count(clients)} clients" if clients is not None else f"{HTTP_LABEL}, concurrent"


def query_table(size: Size) -> list[str]:
    """Latency (ms), requests/s and p50/p99 ratio to Registry Search of every peer at ``size``."""
    header = ["peer", "p50 ms", "p90 ms", "p99 ms", "max ms", "req/s", "p50 vs RS", "p99 vs RS"]
    rows = [_peer_row(label, figures) for label, figures in query_peers(size).items()]
    concurrent = section(size.figures, "query", "http", "concurrent")
    if concurrent:
        rows.insert(1 if HTTP_LABEL in query_peers(size) else 0, _peer_row(_concurrent_label(concurrent), concurrent))
    return _table(header, rows) if rows else ["Queries: n/a"]


def category_table(size: Size) -> list[str]:
    """p99 ms per query category (rows) and peer (columns); empty if no peer recorded categories.

    A category a peer cannot answer is absent from its figures and prints ``n/a``.
    """
    peers = {label: section(f, "by_category_ms") for label, f in query_peers(size).items() if "by_category_ms" in f}
    categories = list(dict.fromkeys(category for by_category in peers.values() for category in by_category))
    if not categories:
        return []
    rows = [[category, *(number(figure(by, category, "p99")) for by in peers.values())] for category in categories]
    return ["p99 ms by query category:", "", *_table(["category", *peers], rows)]


def load_line(size: Size) -> str:
    """The registry load: tags/s, seconds, and whether it came from the cache."""
    load = section(size.figures, "load")
    if not load:
        return f"- **Load**: {NA}"
    cached = ", from the cache" if flag(load, "cached") else ""
    return f"- **Load**: {number(figure(load, 'tags_per_s'))} tags/s ({number(figure(load, 'seconds'))} s{cached})"


def _sequential_text(sequential: Mapping[str, Any]) -> str:
    if not sequential:
        return f"sequential crawl {NA}"
    complete = flag(sequential, "complete")
    extent = "completion n/a" if complete is None else "complete" if complete else "time-boxed"
    rate = figure(sequential, "projected_tags_per_s")
    projected = "" if complete is not False or rate is None else ", projected to the whole catalog"
    return (
        f"sequential crawl {number(rate if rate is not None else figure(sequential, 'tags_per_s'))} tags/s "
        f"({count(figure(sequential, 'tags'))} tags in {number(figure(sequential, 'seconds'))} s, {extent}{projected})"
    )


def backfill_cpu_line(size: Size) -> str:
    """CPU per tag (registry plus indexer or crawler) and cores kept busy, backfill beside the crawl:
    on a machine whose cores are all busy this, not concurrency, bounds the backfill rate."""
    ours = section(size.figures, "backfill", "cpu")
    theirs = section(size.figures, "backfill", "sequential", "cpu")
    if not ours and not theirs:
        return f"- **Backfill CPU**: {NA}"
    return (
        f"- **Backfill CPU**: {number(figure(ours, 'cpu_ms_per_tag'))} ms per tag (registry "
        f"{number(figure(ours, 'registry_s'))} s, service {number(figure(ours, 'service_s'))} s), "
        f"{number(figure(ours, 'cores_busy'))} cores busy; sequential crawl "
        f"{number(figure(theirs, 'cpu_ms_per_tag'))} ms per tag (registry {number(figure(theirs, 'registry_s'))} s, "
        f"crawler {number(figure(theirs, 'crawler_s'))} s), {number(figure(theirs, 'cores_busy'))} cores busy"
    )


def backfill_line(size: Size) -> str:
    """The reconciler backfill beside the sequential crawl, with the speedup and whether the crawl finished."""
    backfill = section(size.figures, "backfill")
    if not backfill:
        return f"- **Backfill**: {NA}"
    return (
        f"- **Backfill**: {number(figure(backfill, 'tags_per_s'))} tags/s "
        f"({count(figure(backfill, 'tags'))} tags in {number(figure(backfill, 'seconds'))} s); "
        f"{_sequential_text(section(backfill, 'sequential'))}; "
        f"speedup {number(figure(backfill, 'speedup'))}×"
    )


def freshness_line(size: Size) -> str:
    """Push-to-searchable seconds (median, p90, p99, max) at the push rate, and how many pushes were seen."""
    freshness = section(size.figures, "freshness")
    if not freshness:
        return f"- **Push-to-searchable**: {NA}"
    latency = ", ".join(f"{name} {number(figure(freshness, 'latency_s', key))} s" for name, key in QUANTILES)
    return (
        f"- **Push-to-searchable** at {number(figure(freshness, 'rate'))} pushes/s: {latency}; "
        f"seen {count(figure(freshness, 'seen'))} of {count(figure(freshness, 'pushes'))}"
    )


def memory_line(size: Size) -> str:
    """Resident memory (MiB) of the search process and of all processes at the end, with peaks."""
    memory = section(size.figures, "memory_mib", "at_end")
    if not memory:
        return f"- **Memory**: {NA}"
    ours, every = section(memory, "search_process"), section(memory, "all_processes")
    processes = figure(every, "processes")
    across = f" across {count(processes)} processes" if processes is not None else ""
    parts = ""
    if figure(ours, "anon") is not None:
        parts = f", heap {number(figure(ours, 'anon'))}, mapped files {number(figure(ours, 'file'))}"
    return (
        f"- **Memory**: search process {number(figure(ours, 'rss'))} MiB RSS "
        f"(peak {number(figure(ours, 'hwm'))}{parts}); all processes {number(figure(every, 'rss'))} MiB "
        f"(peak {number(figure(every, 'hwm'))}){across}"
    )


def segments_line(size: Size) -> str:
    """How many Whoosh segments the index had when the in-process peers were timed."""
    segments = section(size.figures, "query", "segments")
    if not segments:
        return f"- **Index segments** when queried: {NA}"
    return "- **Index segments** when queried: " + ", ".join(f"{count(n)} {kind}" for kind, n in segments.items())


def size_heading(size: Size) -> str:
    """``### 1,000 repositories (5,000 tags)``."""
    return f"### {size.repositories:,} repositories ({count(size.tags)} tags)"


def size_section(size: Size) -> str:
    """The heading, the query table, the load/backfill/freshness/memory lines and the category table."""
    lines = [size_heading(size), "", *query_table(size), ""]
    lines += [load_line(size), backfill_line(size), backfill_cpu_line(size), freshness_line(size), memory_line(size),
              segments_line(size)]
    categories = category_table(size)
    return "\n".join(lines + ([""] + categories if categories else []))


RATIO_NOTE = (
    "“vs RS” is the peer's latency over Registry Search's in-process latency (above 1: the peer is slower). "
    "In-process peers are timed without HTTP; the HTTP rows include it."
)


def size_tables(results: Mapping[str, Any]) -> str:
    """Markdown: one section per size, fewest repositories first, then a note on how to read the ratios."""
    sections = [size_section(size) for size in sizes(results)]
    if not sections:
        return "No sizes measured."
    return "\n\n".join([*sections, RATIO_NOTE]) + "\n"


def report(results: Mapping[str, Any]) -> str:
    """The machine line followed by every size's tables."""
    return machine_line(results) + "\n\n" + size_tables(results)


def main(argv: list[str] | None = None) -> None:
    """Print the Markdown report of a results file."""
    parser = argparse.ArgumentParser(prog="python -m bench.tables", description="Markdown tables of a results file")
    parser.add_argument("results", type=Path, help="results JSON written by bench/run.py")
    args = parser.parse_args(argv)
    print(report(json.loads(args.results.read_text())), end="")


if __name__ == "__main__":
    main()
