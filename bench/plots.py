"""PNG plots of a sized benchmark's results: query latency, backfill throughput and memory against size.

    python -m bench.plots RESULTS_JSON [--out DIR]

Reads the results file ``bench/run.py`` writes through the same readers as
``bench/tables.py``. Every point is drawn with a marker, so a run of one size
still shows; a figure absent at some size is left out of its line, and a plot
with nothing measured says so rather than being skipped.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, NullLocator

from bench.tables import Size, figure, query_limit, query_peers, section, sizes

matplotlib.use("Agg")  # no display: plots are only ever written to files (before anything imports pyplot)

MEMORY_TARGET_MIB = 300.0
LATENCY_QUANTILES = (("median", "p50", "-"), ("p99", "p99", "--"))

Point = tuple[float, float]
Reading = Callable[[Size], float | None]


@dataclass(frozen=True)
class Series:
    """One line of a plot: its legend label, points (x ascending), colour and line style."""

    label: str
    points: tuple[Point, ...]
    colour: str
    style: str = "-"


def points(measured: Sequence[Size], x: Reading, y: Reading) -> tuple[Point, ...]:
    """``(x, y)`` of every size where both are measured and positive (log axes cannot show the rest)."""
    pairs = ((x(size), y(size)) for size in measured)
    return tuple((a, b) for a, b in pairs if a is not None and b is not None and a > 0 and b > 0)


def _repositories(size: Size) -> float | None:
    return float(size.repositories)


def _tags(size: Size) -> float | None:
    return None if size.tags is None else float(size.tags)


def _at(*path: str) -> Reading:
    return lambda size: figure(size.figures, *path)


def _peer_latency(label: str, quantile: str) -> Reading:
    return lambda size: figure(query_peers(size).get(label), "latency_ms", quantile)


def machine_title(results: Mapping[str, Any]) -> str:
    """``2 × AMD EPYC``: the CPUs the figures were measured on."""
    machine = section(results, "machine")
    nproc = figure(machine, "nproc")
    return f"{'?' if nproc is None else int(nproc)} × {machine.get('cpu_model', 'unknown CPU')}"


# -- the series of each plot -------------------------------------------------------------------


def latency_series(measured: Sequence[Size]) -> list[Series]:
    """p50 (solid) and p99 (dashed) query latency per peer against repositories, one colour per peer."""
    labels = dict.fromkeys(label for size in measured for label in query_peers(size))
    return [
        Series(f"{label} {name}", points(measured, _repositories, _peer_latency(label, key)), f"C{index}", style)
        for index, label in enumerate(labels)
        for key, name, style in LATENCY_QUANTILES
    ]


def backfill_series(measured: Sequence[Size]) -> list[Series]:
    """Tags/s of the reconciler backfill and of the sequential crawl against repositories."""
    return [
        Series("reconciler backfill", points(measured, _repositories, _at("backfill", "tags_per_s")), "C0"),
        Series("sequential crawl", points(measured, _repositories, _at("backfill", "sequential", "projected_tags_per_s")), "C1"),
    ]


def time_boxed(measured: Sequence[Size]) -> tuple[Point, ...]:
    """The sequential crawl's points where it was stopped before the end (drawn hollow)."""
    stopped = [size for size in measured if section(size.figures, "backfill", "sequential").get("complete") is False]
    return points(stopped, _repositories, _at("backfill", "sequential", "projected_tags_per_s"))


def memory_series(measured: Sequence[Size]) -> list[Series]:
    """Resident memory (MiB) of the search process and of all processes against tags."""
    return [
        Series("search process RSS", points(measured, _tags, _at("memory_mib", "at_end", "search_process", "rss")), "C0"),
        Series("search process peak", points(measured, _tags, _at("memory_mib", "at_end", "search_process", "hwm")), "C0",
               style="--"),
        Series("all processes RSS", points(measured, _tags, _at("memory_mib", "at_end", "all_processes", "rss")), "C1"),
    ]


# -- drawing -----------------------------------------------------------------------------------


def _draw(axes: Axes, series: Sequence[Series]) -> None:
    for line in series:
        if line.points:
            xs, ys = zip(*line.points)
            axes.plot(xs, ys, linestyle=line.style, marker="o", color=line.colour, label=line.label)


def _size_ticks(axes: Axes, series: Sequence[Series]) -> None:
    xs = sorted({x for line in series for x, _ in line.points})
    axes.set_xscale("log")
    axes.set_xticks(xs, labels=[f"{x:,.0f}" for x in xs])
    axes.xaxis.set_minor_locator(NullLocator())


def _frame(axes: Axes, series: Sequence[Series], log_y: bool) -> bool:
    """Draw ``series`` with size ticks on x; ``False`` (and a notice) if nothing was measured."""
    if not any(line.points for line in series):
        axes.text(0.5, 0.5, "not measured", transform=axes.transAxes, ha="center", va="center")
        return False
    _draw(axes, series)
    _size_ticks(axes, series)
    if log_y:
        axes.set_yscale("log")
        axes.yaxis.set_major_formatter(LogFormatter())  # plain "6", "10", not "6×10⁰"
        axes.yaxis.set_minor_formatter(LogFormatter())
    axes.grid(True, which="both", alpha=0.3)
    return True


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def plot_latency(results: Mapping[str, Any], path: Path) -> Path:
    """``latency-vs-size.png``: p50/p99 query latency (ms, log–log) per peer against repositories."""
    fig = Figure(figsize=(9, 5.5))
    axes = fig.add_subplot()
    if _frame(axes, latency_series(sizes(results)), log_y=True):
        axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
    limit = query_limit(results)
    axes.set_title(f"Query latency, limit {limit if limit is not None else 'n/a'} — {machine_title(results)}")
    axes.set(xlabel="repositories", ylabel="latency (ms)")
    return _save(fig, path)


def plot_backfill(results: Mapping[str, Any], path: Path) -> Path:
    """``backfill-vs-size.png``: tags/s of the backfill and of the sequential crawl against repositories."""
    measured = sizes(results)
    fig = Figure(figsize=(8, 5))
    axes = fig.add_subplot()
    if _frame(axes, backfill_series(measured), log_y=True):
        stopped = time_boxed(measured)
        if stopped:
            xs, ys = zip(*stopped)
            axes.scatter(xs, ys, s=70, facecolors="white", edgecolors="C1", zorder=3, label="crawl time-boxed")
        axes.legend()
    axes.set_title(f"Backfill throughput — {machine_title(results)}")
    axes.set(xlabel="repositories", ylabel="tags/s")
    return _save(fig, path)


def plot_memory(results: Mapping[str, Any], path: Path, target_mib: float = MEMORY_TARGET_MIB) -> Path:
    """``memory-vs-size.png``: RSS (MiB) of the search process and all processes against tags, with the target."""
    fig = Figure(figsize=(8, 5))
    axes = fig.add_subplot()
    if _frame(axes, memory_series(sizes(results)), log_y=False):
        axes.axhline(target_mib, color="grey", linestyle=":", label=f"target {target_mib:,.0f} MiB")
        axes.set_ylim(bottom=0)
        axes.legend()
    axes.set_title(f"Memory — {machine_title(results)}")
    axes.set(xlabel="tags", ylabel="RSS (MiB)")
    return _save(fig, path)


PLOTS: dict[str, Callable[[Mapping[str, Any], Path], Path]] = {
    "latency-vs-size.png": plot_latency,
    "backfill-vs-size.png": plot_backfill,
    "memory-vs-size.png": plot_memory,
}


def write_plots(results: Mapping[str, Any], directory: Path) -> list[Path]:
    """Write every plot of ``results`` as PNG into ``directory`` (created if missing); the paths written.

    Existing files of the same names are replaced.
    """
    directory.mkdir(parents=True, exist_ok=True)
    return [plot(results, directory / name) for name, plot in PLOTS.items()]


def main(argv: list[str] | None = None) -> None:
    """Write the plots of a results file and print their paths."""
    parser = argparse.ArgumentParser(prog="python -m bench.plots", description="PNG plots of a results file")
    parser.add_argument("results", type=Path, help="results JSON written by bench/run.py")
    parser.add_argument("--out", type=Path, default=None, help="directory for the PNGs (default: the results file's)")
    args = parser.parse_args(argv)
    for path in write_plots(json.loads(args.results.read_text()), args.out or args.results.parent):
        print(path)


if __name__ == "__main__":
    main()
