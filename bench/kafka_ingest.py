"""Webhook ingest: how many notifications per second one receiver process answers, and how fast.

Load generator processes (``IngestPlan.processes``), each with keep-alive
``http.client`` connections in threads, POST single-event envelopes shaped
as distribution 2.8 sends them (a tagged manifest push, pretty-printed with
three spaces; ``tests.webhooks.samples``), each with a new event id, for
``IngestPlan.repositories`` repositories in turn. Every client sends its
next request when the previous one is answered (a closed loop, so the figure
is what the receiver sustains at that concurrency). Requests started during
the warm-up are not counted; requests started in the timed window are.

CPU time of the receiver, of the broker, of the load generator and of the
whole machine is sampled over the window, so a report says which side
saturated. ``profile_receiver`` samples the receiver with py-spy.
"""

from __future__ import annotations

import http.client
import multiprocessing
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.machine import machine_cpu_s, process_cpu_s
from bench.stats import summary
from tests.webhooks.samples import MANIFEST_PUSH, V1_MEDIA_TYPE, edited, envelope

REQUEST_TIMEOUT_S = 10.0
SPAWN_GRACE_S = 1.5
MAX_REQUESTS_PER_CLIENT = 1_000_000
_ID, _REPOSITORY = "@@event-id@@", "@@repository@@"


@dataclass(frozen=True)
class IngestPlan:
    """``clients`` concurrent clients split over ``processes`` for ``duration_s`` after ``warmup_s``."""

    clients: int = 16
    processes: int = 2
    duration_s: float = 20.0
    warmup_s: float = 5.0
    repositories: int = 1000
    target_rate: float = 2000.0
    target_p99_ms: float = 20.0

    def __post_init__(self) -> None:
        if self.clients < 1 or self.processes < 1 or self.duration_s <= 0 or self.warmup_s < 0:
            raise ValueError(f"IngestPlan needs clients, processes >= 1 and a positive duration: {self}")

    def threads_of(self, process: int) -> int:
        """Clients run by load generator process number ``process`` (0-based); 0 when it has none."""
        share, extra = divmod(self.clients, self.active_processes)
        return share + (1 if process < extra else 0)

    @property
    def active_processes(self) -> int:
        """Load generator processes actually started: never more than clients."""
        return min(self.processes, self.clients)


@dataclass(frozen=True)
class Window:
    """The monotonic times load starts (``begin``), counting starts (``start``) and everything ends (``end``)."""

    begin: float
    start: float
    end: float


@dataclass(frozen=True)
class Target:
    """Where to POST and with which bearer token."""

    url: str
    token: str


class EnvelopeMaker:
    """Single-event push envelopes as distribution 2.8 writes them; a new event id each time."""

    def __init__(self, repositories: int, client: int) -> None:
        event = edited(MANIFEST_PUSH, id=_ID, target_repository=_REPOSITORY, target_tag="latest")
        event["target"]["url"] = event["target"]["url"].replace("demo/app", _REPOSITORY)
        self._parts = envelope(event).decode().replace(_ID, "\0").replace(_REPOSITORY, "\0").split("\0")
        self._repositories = repositories
        self._count = client * 7919  # clients start on different repositories

    def next(self) -> bytes:
        """The next envelope: repository ``ingest/app-<n>`` cycling through ``repositories``."""
        self._count += 1
        repository = f"ingest/app-{self._count % self._repositories:05d}"
        values = iter((str(uuid.uuid4()), repository, repository))
        return "".join(part + (next(values, "")) for part in self._parts).encode()


def measure_ingest(
    target: Target, plan: IngestPlan, watched: Mapping[str, int], profile: Path | None = None
) -> dict[str, Any]:
    """Load ``target`` as ``plan`` says; latencies, statuses, throughput and CPU use per side.

    ``watched`` names the server-side processes (``receiver`` first, then
    e.g. the broker) whose CPU time is reported, by pid. With ``profile``,
    the receiver is sampled by py-spy during the timed window (stacks written
    there) and the result holds its largest costs under ``profile``.
    """
    begin = time.monotonic() + SPAWN_GRACE_S
    window = Window(begin, begin + plan.warmup_s, begin + plan.warmup_s + plan.duration_s)
    context = multiprocessing.get_context("spawn")
    pipes, workers = [], []
    for number in range(plan.active_processes):
        receiving, sending = context.Pipe(duplex=False)
        worker = context.Process(target=load_process, args=(target, plan, number, window, sending), daemon=True)
        worker.start()
        pipes.append(receiving)
        workers.append(worker)
    profiler = _Profiler(watched["receiver"], window, profile) if profile else None
    server_cpu = _cpu_over_window(window, watched)
    reports = [_receive(pipe, window) for pipe in pipes]
    for worker in workers:
        worker.join(timeout=REQUEST_TIMEOUT_S)
    figures = _ingest_figures(plan, reports, server_cpu)
    return {**figures, "profile": profiler.result()} if profiler else figures


class _Profiler:
    """py-spy on the receiver over the timed window, in a thread."""

    def __init__(self, pid: int, window: Window, output: Path) -> None:
        self._summary: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, args=(pid, window, output), daemon=True)
        self._thread.start()

    def _run(self, pid: int, window: Window, output: Path) -> None:
        time.sleep(max(0.0, window.start - time.monotonic()))
        try:
            self._summary = profile_receiver(pid, window.end - window.start, output)
        except (OSError, subprocess.SubprocessError) as error:
            self._summary = {"error": repr(error)[:500]}

    def result(self) -> dict[str, Any]:
        """The summary of ``profile_receiver``, once py-spy finished (empty if it failed)."""
        self._thread.join(timeout=120)
        return self._summary


def load_process(target: Target, plan: IngestPlan, number: int, window: Window, results: Connection) -> None:
    """One load generator process: its clients' timed latencies, statuses and its own CPU use."""
    threads = plan.threads_of(number)
    clients = [_Client(target, EnvelopeMaker(plan.repositories, number * 1000 + i), window) for i in range(threads)]
    runners = [threading.Thread(target=c.run, name=f"client-{i}", daemon=True) for i, c in enumerate(clients)]
    for runner in runners:
        runner.start()
    cpu = _own_cpu_over_window(window)
    for runner in runners:
        runner.join(timeout=REQUEST_TIMEOUT_S * 2)
    statuses: Counter[str] = Counter()
    for client in clients:
        statuses.update(client.statuses)
    results.send({"latencies": [s for c in clients for s in c.latencies], "statuses": dict(statuses), "cpu_s": cpu})
    results.close()


class _Client:
    """One keep-alive connection sending envelopes back to back until the window ends."""

    def __init__(self, target: Target, maker: EnvelopeMaker, window: Window) -> None:
        parts = urlsplit(target.url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self.headers = {"Content-Type": V1_MEDIA_TYPE, "Authorization": f"Bearer {target.token}"}
        self.maker, self.window = maker, window
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()
        self._connection: http.client.HTTPConnection | None = None

    def run(self) -> None:
        time.sleep(max(0.0, self.window.begin - time.monotonic()))
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            sent = time.monotonic()
            if sent >= self.window.end:
                break
            status = self._post(self.maker.next())
            if sent >= self.window.start:
                self.latencies.append(time.monotonic() - sent)
                self.statuses[status] += 1
        if self._connection is not None:
            self._connection.close()

    def _post(self, body: bytes) -> str:
        try:
            if self._connection is None:
                self._connection = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_S)
            self._connection.request("POST", self.path, body=body, headers=self.headers)
            response = self._connection.getresponse()
            response.read()
            return str(response.status)
        except (OSError, http.client.HTTPException) as error:
            if self._connection is not None:
                self._connection.close()
            self._connection = None
            return type(error).__name__


def profile_receiver(pid: int, seconds: float, output: Path) -> dict[str, Any]:
    """Sample ``pid`` with py-spy for ``seconds`` (only the thread holding the GIL) and name its largest costs.

    Writes py-spy's collapsed stacks to ``output``; returns the top functions
    by own samples and by samples including callees, and own samples by package.
    """
    command = ["py-spy", "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))), "--rate", "200",
               "--gil", "--nonblocking", "--format", "raw", "--output", str(output)]
    subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    return summarise_stacks(output.read_text())


def summarise_stacks(collapsed: str, top: int = 15) -> dict[str, Any]:
    """Shares of samples: per leaf function, per function anywhere on the stack (thread plumbing left
    out), per package of the leaf, and per thread entry point (what kind of thread held the GIL)."""
    counters: dict[str, Counter[str]] = {name: Counter() for name in ("own", "inclusive", "own_by_package", "by_thread")}
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count, frames = int(count_text), [f for f in stack.split(";") if not f.endswith(_PLUMBING)]
        total += count
        leaf = frames[-1] if frames else stack.split(";")[-1]
        counters["own"][leaf] += count
        counters["own_by_package"][package_of(leaf)] += count
        counters["by_thread"][frames[0] if frames else leaf] += count
        for frame in set(frames):
            counters["inclusive"][frame] += count
    return {"samples": total, **{name: _shares(counter, total, top) for name, counter in counters.items()}}


_PLUMBING = ("(threading.py:1002)", "(threading.py:1045)", "(threading.py:982)")


def _shares(counter: Counter[str], total: int, top: int) -> list[dict[str, Any]]:
    return [{"frame": key, "share": round(value / total, 3)} for key, value in counter.most_common(top)]


def package_of(frame: str) -> str:
    """The top-level package (or stdlib module) of a py-spy frame ``function (path:line)``."""
    path = frame.rpartition("(")[2].rstrip(")").rpartition(":")[0]
    if not path:
        return frame
    return path.split("/", 1)[0].removesuffix(".py") if not path.startswith("/") else Path(path).stem


def _cpu_over_window(window: Window, watched: Mapping[str, int]) -> dict[str, float]:
    time.sleep(max(0.0, window.start - time.monotonic()))
    before = {name: process_cpu_s(pid) for name, pid in watched.items()}
    busy_before, total_before = machine_cpu_s()
    time.sleep(max(0.0, window.end - time.monotonic()))
    after = {name: process_cpu_s(pid) for name, pid in watched.items()}
    busy_after, total_after = machine_cpu_s()
    wall = window.end - window.start
    cores = {name: round((after[name] - before[name]) / wall, 2) for name in watched}
    cores["machine"] = round((busy_after - busy_before) / wall, 2)
    cores["machine_busy_share"] = round((busy_after - busy_before) / max(1e-9, total_after - total_before), 3)
    return cores


def _own_cpu_over_window(window: Window) -> float:
    time.sleep(max(0.0, window.start - time.monotonic()))
    before = time.process_time()
    time.sleep(max(0.0, window.end - time.monotonic()))
    return time.process_time() - before


def _receive(pipe: Connection, window: Window) -> dict[str, Any]:
    if not pipe.poll(max(0.0, window.end - time.monotonic()) + REQUEST_TIMEOUT_S * 3):
        raise RuntimeError("a load generator process sent no results")
    report: dict[str, Any] = pipe.recv()
    return report


def _ingest_figures(plan: IngestPlan, reports: list[dict[str, Any]], server_cpu: dict[str, float]) -> dict[str, Any]:
    latencies = [s for r in reports for s in r["latencies"]]
    statuses: Counter[str] = Counter()
    for report in reports:
        statuses.update(report["statuses"])
    latency = summary(latencies, 1000)
    accepted_per_s = round(statuses.get("202", 0) / plan.duration_s, 1)
    client_cores = round(sum(r["cpu_s"] for r in reports) / plan.duration_s, 2)
    return {
        "clients": plan.clients,
        "client_processes": plan.active_processes,
        "duration_s": plan.duration_s,
        "warmup_s": plan.warmup_s,
        "requests": len(latencies),
        "accepted_per_s": accepted_per_s,
        "statuses": dict(sorted(statuses.items())),
        "non_202": sum(n for status, n in statuses.items() if status != "202"),
        "latency_ms": latency,
        "cpu_cores": {**server_cpu, "load_generator": client_cores},
        "target": {"rate": plan.target_rate, "p99_ms": plan.target_p99_ms},
        "met": accepted_per_s >= plan.target_rate and latency.get("p99", float("inf")) <= plan.target_p99_ms,
    }


def body_size() -> int:
    """Bytes of one generated envelope, for the report."""
    return len(EnvelopeMaker(1, 0).next())

