"""The soak's figures as the Markdown section of ``bench/RESULTS.md``.

    python -m bench.soak_report bench/soak.json

Prints the section for a results file ``bench.soak`` wrote: the targets and
whether each was met, each stream's planned and achieved rate, errors and
latency percentiles (from the time each request was due), memory over the
run, CPU per side, and the consistency check. Any figure may be absent: it
prints as ``n/a``. ``RESULTS.md`` holds no soak figures until a full run
(10 minutes, nothing else on the machine) is pasted there from this output.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.tables import NA, count, figure, machine_line, number, section

STREAMS = (("notifications", "notifications"), ("real_pushes", "real pushes"), ("queries", "queries"))
QUANTILES = ("median", "p90", "p99", "max")
MEMORY_ROWS = 13


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _verdict(met: bool | None) -> str:
    return NA if met is None else "**met**" if met else "**missed**"


def _percent(value: float | None) -> str:
    return NA if value is None else f"{value * 100:+.1f} %"


def heading(results: Mapping[str, Any]) -> str:
    """``## Soak (issue 6): 10 minutes at 200 notifications/s and 100 queries/s``."""
    parameters = section(results, "parameters")
    seconds = figure(parameters, "duration_s") or 0
    duration = f"{number(seconds / 60)} minutes" if seconds >= 120 else f"{number(seconds)} s"
    return (f"## Soak (issue 6): {duration} at {number(figure(parameters, 'notification_rate'))} "
            f"notifications/s and {number(figure(parameters, 'query_rate'))} queries/s")


def setup_line(results: Mapping[str, Any]) -> str:
    """What was loaded and indexed before the timed window."""
    parameters, setup = section(results, "parameters"), section(results, "setup")
    return (f"{count(figure(parameters, 'repositories'))} repositories × {count(figure(parameters, 'tags_per_repo'))} "
            f"tags pre-pushed, backfilled in {number(figure(setup, 'backfill_s'))} s, plus "
            f"{count(figure(setup, 'churn_repositories'))} repositories under `soak-churn/` for real pushes; "
            f"{number(figure(parameters, 'warmup_s'))} s warm-up, then {number(figure(parameters, 'duration_s'))} s "
            f"timed; {number(figure(parameters, 'push_rate'))} real registry operations/s on top of the notifications.")


def targets_table(results: Mapping[str, Any]) -> list[str]:
    """Zero errors, memory growth, and the consistency check: measured and verdict."""
    errors, memory = section(results, "errors"), section(results, "memory")
    overall, check = section(memory, "all_processes"), section(results, "consistency")
    total = figure(errors, "total")
    names = dict(STREAMS)
    by_loop = ", ".join(f"{names.get(key, key)} {count(sum(kinds.values()))}"
                        for key, kinds in section(errors, "by_loop").items())
    dead = count(figure(errors, "dead_lettered_events"))
    growth = (f"{_percent(figure(overall, 'growth'))} ({number(figure(overall, 'start_rss'))} → "
              f"{number(figure(overall, 'end_rss'))} MiB, max {number(figure(overall, 'max_rss'))})")
    pulls = section(check, "pulls")
    consistent = (f"{count(figure(check, 'indexed_tags'))} of {count(figure(check, 'registry_tags'))} tags, "
                  f"{count(figure(check, 'missing'))} missing, {count(figure(check, 'wrong_digest'))} wrong digest; "
                  f"pulls {count(figure(pulls, 'indexed'))} indexed of {count(figure(pulls, 'acknowledged'))} "
                  f"acknowledged; agreed after {number(figure(check, 'converged_after_s'))} s")
    passed = check.get("passed") if isinstance(check.get("passed"), bool) else None
    return ["| target | measured | |", "|---|---|---|",
            _row(["zero errors", f"{count(total)} ({by_loop}; dead-lettered events {dead})",
                  _verdict(None if total is None else total == 0)]),
            _row([f"memory growth < {number((figure(memory, 'target_growth') or 0) * 100)} %", growth,
                  _verdict(memory.get("met") if isinstance(memory.get("met"), bool) else None)]),
            _row(["index agrees with the registry afterwards", consistent, _verdict(passed)])]


def streams_table(results: Mapping[str, Any]) -> list[str]:
    """One row per stream and per kind of request: rates, errors, latency from the due time."""
    lines = ["| stream | planned /s | achieved /s | requests | errors | p50 ms | p90 ms | p99 ms | max ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for key, name in STREAMS:
        stream = section(results, key)
        if not stream:
            continue
        lines.append(_stream_row(f"**{name}**", stream, number(figure(stream, "rate")),
                                 number(figure(stream, "achieved_per_s"))))
        for label, part in section(stream, "by_label").items():
            lines.append(_stream_row(f"{name}: {label}", part, "", ""))
    return lines


def _stream_row(label: str, figures: Mapping[str, Any], planned: str, achieved: str) -> str:
    errors = sum(section(figures, "errors").values())
    latency = [number(figure(figures, "latency_ms", q)) for q in QUANTILES]
    return _row([label, planned, achieved, count(figure(figures, "requests")), count(errors), *latency])


def memory_table(results: Mapping[str, Any]) -> list[str]:
    """Resident memory at (up to ``MEMORY_ROWS``) evenly spaced samples, the first and last included."""
    samples = results.get("samples") or []
    if not samples:
        return [f"Memory samples: {NA}"]
    step = max(1, -(-(len(samples) - 1) // (MEMORY_ROWS - 1)))
    chosen = samples[:-1:step] + [samples[-1]]
    lines = ["| at s | all processes RSS MiB | peak (HWM) | search process RSS | its heap (anon) |",
             "|---:|---:|---:|---:|---:|"]
    for sample in chosen:
        lines.append(_row([number(figure(sample, "at_s")), number(figure(sample, "memory_mib", "rss")),
                           number(figure(sample, "memory_mib", "hwm")), number(figure(sample, "search_process_mib", "rss")),
                           number(figure(sample, "search_process_mib", "anon"))]))
    return lines


def cpu_line(results: Mapping[str, Any]) -> str:
    """Cores used by each side over the timed window, the machine's busy share and load average."""
    cpu = section(results, "cpu")
    cores = ", ".join(f"{name.replace('_', ' ')} {number(value)}" for name, value in section(cpu, "cores").items())
    return (f"CPU over the timed window, in cores: {cores or NA}; machine busy "
            f"{_percent_plain(figure(cpu, 'machine_busy_share'))} of {count(figure(cpu, 'nproc'))} cores; load average "
            f"{_loads(cpu.get('load_average_start'))} at the start, {_loads(cpu.get('load_average_end'))} at the end.")


def _loads(values: Any) -> str:
    return ", ".join(number(v) for v in values) if isinstance(values, list) and values else NA


def _percent_plain(value: float | None) -> str:
    return NA if value is None else f"{value * 100:.0f} %"


def drain_line(results: Mapping[str, Any]) -> str:
    """How long the service took to go quiet after the load, and what the registry logged."""
    drain, log = section(results, "drain"), section(results, "registry_log")
    accepted = figure(results, "webhook_counters", 'regsearch_webhook_events_total{outcome="accepted"}')
    generated = figure(results, "notifications", "requests") or 0
    generated += figure(results, "notifications", "warmup_requests") or 0
    return (f"After the load: quiet after {number(figure(drain, 'seconds'))} s "
            f"({'settled' if drain.get('quiet') else 'not settled'}). The receiver accepted {count(accepted)} events "
            f"during the soak, {count(generated)} of them sent by the load generator, the rest by the registry "
            f"for the real pushes; the registry logged {count(figure(log, 'warnings'))} warnings or errors "
            f"(besides {count(figure(log, 'client_errors'))} answers with an error status, such as a deleted tag asked for).")


def markdown_section(results: Mapping[str, Any]) -> str:
    """The whole section: heading, setup, targets, streams, memory, CPU and the drain."""
    parts = [heading(results), "", machine_line(results), setup_line(results), "", "### Targets", "",
             *targets_table(results), "", "### Streams (latency from the time each request was due)", "",
             *streams_table(results), "", "### Memory", "", *memory_table(results), "", cpu_line(results), "",
             drain_line(results)]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Print the Markdown section of a soak results file."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak_report", description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="results JSON written by python -m bench.soak")
    args = parser.parse_args(argv)
    print(markdown_section(json.loads(args.results.read_text())), end="")


if __name__ == "__main__":
    main()
