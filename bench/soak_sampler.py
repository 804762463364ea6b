"""Memory and CPU of the system under test, sampled at a fixed interval during the soak.

The first sample is taken when the warm-up ends (the start the memory growth
is measured from), then one every interval, and the last when the timed
window ends. Each holds the resident memory (``VmRSS``, and ``VmHWM`` the
peak) of the service's processes together and of its search process alone
(``MeasuredService``), the CPU seconds used so far by the service, the
registry, the load generator (this process) and the whole machine, and the
load average.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from bench.kafka_ingest import Window
from bench.machine import load_average, machine_cpu_s, process_cpu_s
from bench.stack import BenchStack

MEMORY_FIELDS = ("rss", "hwm", "anon", "file")


class ResourceSampler:
    """Samples ``stack`` every ``interval_s`` over ``window``'s timed part, in a thread."""

    def __init__(self, stack: BenchStack, window: Window, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError("the sample interval must be positive")
        self.stack, self.window, self.interval_s = stack, window, interval_s
        self.samples: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self._thread = threading.Thread(target=self._run, name="resource-sampler", daemon=True)

    def start(self) -> None:
        """Start sampling; the first sample waits for the end of the warm-up."""
        self._thread.start()

    def join(self, timeout_s: float) -> list[dict[str, Any]]:
        """Wait for the last sample (at the window's end); every sample taken."""
        self._thread.join(timeout=timeout_s)
        return self.samples

    def _run(self) -> None:
        # due times from the sample number, not summed intervals: no drift, and no extra sample
        # a hair before the end when the duration is a multiple of the interval
        timed = self.window.end - self.window.start
        count = math.ceil(timed / self.interval_s - 1e-6)
        for number in range(count):
            self._sample_at(self.window.start + number * self.interval_s)
        self._sample_at(self.window.end)

    def _sample_at(self, due: float) -> None:
        time.sleep(max(0.0, due - time.monotonic()))
        try:
            self.samples.append(self._sample())
        except (OSError, RuntimeError) as error:  # a process gone: reported, and the run's figures say so
            self.failures.append(f"{time.monotonic() - self.window.start:.1f} s: {error!r}")

    def _sample(self) -> dict[str, Any]:
        service, registry = self.stack.service, self.stack.registry
        busy_s, total_s = machine_cpu_s()
        return {
            "at_s": round(time.monotonic() - self.window.start, 2),
            "memory_mib": service.memory_mib(),
            "search_process_mib": service.search_process_memory_mib(),
            "cpu_s": {"service": round(service.cpu_s(), 2),
                      "registry": round(process_cpu_s(registry.pid), 2) if registry.pid else None,
                      "load_generator": round(time.process_time(), 2),
                      "machine_busy": round(busy_s, 2), "machine_total": round(total_s, 2)},
            "load_average": load_average(),
        }


def memory_figures(samples: Sequence[dict[str, Any]], target_growth: float) -> dict[str, Any]:
    """Resident memory at the first and last sample, its maximum, and growth = (end - start) / start,
    of the service's processes together (judged against ``target_growth``) and of the search process."""
    if len(samples) < 2:
        return {"samples": len(samples)}
    overall = _growth([s["memory_mib"] for s in samples])
    return {
        "samples": len(samples),
        "all_processes": overall,
        "search_process": _growth([s["search_process_mib"] for s in samples]),
        "processes": samples[-1]["memory_mib"].get("processes"),
        "target_growth": target_growth,
        "met": overall["growth"] < target_growth,
    }


def _growth(memory: Sequence[dict[str, float]]) -> dict[str, Any]:
    start, end = memory[0]["rss"], memory[-1]["rss"]
    return {"start_rss": start, "end_rss": end, "max_rss": max(m["rss"] for m in memory),
            "peak_hwm": max(m["hwm"] for m in memory), "start_anon": memory[0].get("anon"),
            "end_anon": memory[-1].get("anon"), "growth": round((end - start) / start, 4) if start else None}


def cpu_figures(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Cores used over the sampled time (CPU seconds per second) by each side, the machine's busy
    share, and the load average at the start and end: on 2 cores, the side that is full is the limit."""
    if len(samples) < 2:
        return {}
    first, last = samples[0], samples[-1]
    wall = last["at_s"] - first["at_s"]
    if wall <= 0:
        return {}
    cores = {name: round((last["cpu_s"][name] - first["cpu_s"][name]) / wall, 2)
             for name in ("service", "registry", "load_generator", "machine_busy")
             if last["cpu_s"][name] is not None and first["cpu_s"][name] is not None}
    total = last["cpu_s"]["machine_total"] - first["cpu_s"]["machine_total"]
    busy = last["cpu_s"]["machine_busy"] - first["cpu_s"]["machine_busy"]
    return {"cores": cores, "machine_busy_share": round(busy / total, 3) if total > 0 else None,
            "nproc": os.cpu_count(), "load_average_start": first["load_average"],
            "load_average_end": last["load_average"]}
