"""The system under test: a real registry notifying a real ``regsearch serve``, on 127.0.0.1.

Both are the test suite's process wrappers (``tests.support``), so the
benchmark runs exactly what the integration tests run. The registry's
notification endpoint uses the values the README tells users to paste.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.machine import machine_cpu_s, process_cpu_s

from tests.support.registry import Notifications, RegistryProcess
from tests.support.service import ServiceProcess

REQUEST_TIMEOUT_S = 30
RECONCILE_INTERVAL_S = 3600.0


class MeasuredService(ServiceProcess):
    """``ServiceProcess`` that also reports its process's memory."""

    def memory_mib(self) -> dict[str, float]:
        """``rss`` (resident now) and ``hwm`` (peak resident) in MiB, from ``/proc/<pid>/status``,
        of the service and its child processes (the follower) together; ``processes`` counted."""
        pid = self._running_pid()
        pids = [pid, *_children(pid)]
        totals = {"rss": 0.0, "hwm": 0.0, "anon": 0.0, "file": 0.0}
        for pid in pids:
            for name, value in process_memory_mib(pid).items():
                totals[name] += value
        return {**{name: round(value, 1) for name, value in totals.items()}, "processes": len(pids)}

    def search_process_memory_mib(self) -> dict[str, float]:
        """``rss`` and ``hwm`` in MiB of the process that answers searches (the one started, not its children)."""
        return {name: round(value, 1) for name, value in process_memory_mib(self._running_pid()).items()}

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the service and its child processes used so far."""
        pid = self._running_pid()
        return sum(process_cpu_s(p) for p in (pid, *_children(pid)))

    def _running_pid(self) -> int:
        if self._process is None or self._process.poll() is not None:
            raise RuntimeError("the service is not running")
        return self._process.pid


def process_memory_mib(pid: int) -> dict[str, float]:
    """Resident memory of one process in MiB, from ``/proc/<pid>/status``: ``rss`` now, ``hwm`` its
    peak, and of ``rss`` the ``anon`` part (the heap) and the ``file`` part (mapped file pages, such
    as index files read through mmap, which the kernel can drop and read again)."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    keys = (("rss", "VmRSS"), ("hwm", "VmHWM"), ("anon", "RssAnon"), ("file", "RssFile"))
    return {name: int(fields[key].split()[0]) / 1024 for name, key in keys}


def _children(pid: int) -> list[int]:
    """The direct child processes of ``pid``, from ``/proc/<pid>/task/*/children``."""
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in children.read_text().split()]
    return found


@dataclass(frozen=True)
class CpuReading:
    """CPU seconds used so far by a registry process and by the whole machine (busy, all cores)."""

    registry_s: float
    machine_busy_s: float

    @classmethod
    def now(cls, registry: RegistryProcess) -> CpuReading:
        if registry.pid is None:
            raise RuntimeError("the registry is not running")
        return cls(process_cpu_s(registry.pid), machine_cpu_s()[0])


@dataclass
class BenchStack:
    """The running registry and service, and a way to ask the service."""

    registry: RegistryProcess
    service: MeasuredService
    started_at: float = 0.0
    """``time.monotonic()`` just before the service was started."""
    cpu_at_start: CpuReading | None = None
    """CPU used so far by the registry and the machine just before the service was started."""

    def search(self, **params: Any) -> dict[str, Any]:
        """``GET /api/v1/search`` with ``params``; raises unless 200."""
        response = requests.get(f"{self.service.url}/api/v1/search", params=params, timeout=REQUEST_TIMEOUT_S)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def indexed(self, kind: str) -> int:
        """How many documents of ``kind`` (``repository`` or ``tag``) the service can find now."""
        return int(self.search(q="", kind=kind, limit=1)["total"])

    def wait_indexed(self, kind: str, expected: int, timeout_s: float) -> tuple[int, float]:
        """Poll until ``expected`` documents of ``kind`` are found or ``timeout_s`` passes.

        Returns the last count and the seconds waited; the caller decides what a shortfall means.
        """
        started = time.monotonic()
        count = self.indexed(kind)
        while count < expected and time.monotonic() - started < timeout_s:
            time.sleep(0.1)
            count = self.indexed(kind)
        return count, time.monotonic() - started


@contextmanager
def running_stack(
    root: Path, reconcile_interval_s: float = RECONCILE_INTERVAL_S, registry_dir: Path | None = None
) -> Iterator[BenchStack]:
    """Start a service in ``root/data`` and a registry notifying it; stop both on exit.

    The registry keeps its storage in ``registry_dir`` (default ``root/registry``),
    so an already loaded one can be used. The service walks the catalog at start
    when its index is empty, then every ``reconcile_interval_s``: by default not
    within a run, whose figures would otherwise depend on whether the walk (a
    HEAD per tag) fell inside a measurement.
    """
    root.mkdir(parents=True, exist_ok=True)
    service = MeasuredService(root / "data", "", extra=["--reconcile-interval", f"{reconcile_interval_s:g}"])
    notifications = Notifications(service.notify_url, service.token, timeout="1s", threshold=5, backoff="1s")
    registry = RegistryProcess(registry_dir or root / "registry", notifications=notifications)
    service.registry_url = registry.url
    registry.start()
    try:
        cpu, started_at = CpuReading.now(registry), time.monotonic()
        service.start()
        try:
            yield BenchStack(registry, service, started_at, cpu)
        finally:
            service.stop()
    finally:
        registry.stop()
