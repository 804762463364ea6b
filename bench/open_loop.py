"""An open-loop load: requests start on a fixed schedule, whatever the answers do.

Request ``n`` of a loop is due at ``window.begin + n / rate``. A few worker
threads, each with its own client (one keep-alive connection), take the next
due request, wait until it is due, and send it. Latency is measured from the
moment a request was *due*, not from when it was sent: when the service is
slow and every worker is busy, the requests due meanwhile count the time
they waited. A closed loop (send the next when the answer arrives), or timing
from the send, would leave out exactly the slow moments: the "coordinated
omission" of Gil Tene's talk on latency measurement. The time from send to
answer (service time) and how late each request was sent are kept too, so a
report can tell a slow service from a load generator that fell behind.

Requests due during the warm-up (``window.begin`` to ``window.start``) are
sent like any other; their errors are reported apart and their latencies
left out. A loop stops sending when :meth:`OpenLoop.join` gives up on it:
what it returns is then every request sent, so a check made afterwards (the
soak's pull count) sees no request that went out after the records were
taken. Requests due but never sent count as not achieved.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from bench.kafka_ingest import Window
from bench.stats import summary

OK = "ok"
REQUEST_TIMEOUT_S = 10.0
Client = TypeVar("Client")


@dataclass(frozen=True)
class Record:
    """One request: what it was (``label``), when it was due, sent and answered, and its outcome
    (``ok``, or the kind of error: ``HTTP 503``, ``TimeoutError``, ...)."""

    label: str
    due: float
    sent: float
    done: float
    outcome: str


Send = Callable[[Client, int], tuple[str, str]]
"""Sends request number ``n`` with a worker's client; returns its label and outcome, never raises."""


class OpenLoop(Generic[Client]):
    """``workers`` threads sending ``rate`` requests per second over ``window`` (see the module docstring)."""

    def __init__(self, name: str, rate: float, workers: int, window: Window,
                 make_client: Callable[[], Client], send: Send[Client]) -> None:
        if rate <= 0 or workers < 1:
            raise ValueError(f"{name}: an open loop needs a positive rate and at least one worker")
        self.name, self.rate, self.workers, self.window = name, rate, workers, window
        self._make_client, self._send = make_client, send
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._next = 0
        self._records: list[list[Record]] = [[] for _ in range(workers)]
        self._threads = [threading.Thread(target=self._work, args=(n,), name=f"{name}-{n}", daemon=True)
                         for n in range(workers)]

    def start(self) -> None:
        """Start the workers; they wait for ``window.begin``."""
        for thread in self._threads:
            thread.start()

    def join(self, timeout_s: float) -> list[Record]:
        """Wait for every due request to be answered (at most ``timeout_s`` more), then stop sending
        and wait for the requests in flight (each ends within its client's timeout); every record."""
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT_S + 5.0)
        return sorted((r for records in self._records for r in records), key=lambda r: r.due)

    def _take(self) -> tuple[int, float]:
        with self._lock:
            number, self._next = self._next, self._next + 1
        return number, self.window.begin + number / self.rate

    def _work(self, worker: int) -> None:
        client = self._make_client()
        records = self._records[worker]
        while not self._stop.is_set():
            number, due = self._take()
            if due >= self.window.end or self._stop.wait(max(0.0, due - time.monotonic())):
                return
            sent = time.monotonic()
            label, outcome = self._send(client, number)
            records.append(Record(label, due, sent, time.monotonic(), outcome))


class HttpConnection:
    """One keep-alive ``http.client`` connection whose requests answer an outcome and never raise.

    ``requests`` spends about 1.5 ms of its own per call here, more than some
    answers take; a failed connection is closed and opened again on the next request.
    """

    def __init__(self, base_url: str, timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        parts = urlsplit(base_url)
        self._host, self._port, self._timeout_s = parts.hostname or "127.0.0.1", parts.port or 80, timeout_s
        self._connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> str:
        """``ok`` for any 2xx answer, ``HTTP <status>`` for any other, else the exception's type name."""
        try:
            if self._connection is None:
                self._connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout_s)
            self._connection.request(method, path, body=body, headers=headers or {})
            response = self._connection.getresponse()
            response.read()
            return OK if 200 <= response.status < 300 else f"HTTP {response.status}"
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return type(error).__name__

    def close(self) -> None:
        """Close the connection, if open."""
        if self._connection is not None:
            self._connection.close()
        self._connection = None


def loop_figures(records: list[Record], window: Window, rate: float, workers: int) -> dict[str, Any]:
    """What a loop achieved over ``window``'s timed part: requests due, answered well per second,
    errors by kind (and those of the warm-up apart), latency from due and from sent, per label too."""
    timed = [r for r in records if window.start <= r.due < window.end]
    duration = window.end - window.start
    late = summary([r.sent - r.due for r in timed], 1000)
    return {
        "rate": rate,
        "workers": workers,
        "planned": round(rate * duration),
        "requests": len(timed),
        "achieved_per_s": round(sum(r.outcome == OK for r in timed) / duration, 1),
        "errors": errors_by_kind(timed),
        "warmup_requests": sum(r.due < window.start for r in records),
        "warmup_errors": errors_by_kind([r for r in records if r.due < window.start]),
        "latency_ms": summary([r.done - r.due for r in timed], 1000),
        "service_ms": summary([r.done - r.sent for r in timed], 1000),
        "sent_late_ms": {"p99": late.get("p99"), "max": late.get("max")},
        "by_label": _by_label(timed),
    }


def errors_by_kind(records: list[Record]) -> dict[str, int]:
    """How many of ``records`` failed, by outcome; empty when none did."""
    return dict(Counter(r.outcome for r in records if r.outcome != OK))


def _by_label(records: list[Record]) -> dict[str, Any]:
    labels: dict[str, list[Record]] = {}
    for record in records:
        labels.setdefault(record.label, []).append(record)
    return {label: {"requests": len(chosen), "errors": errors_by_kind(chosen),
                    "latency_ms": summary([r.done - r.due for r in chosen], 1000)}
            for label, chosen in sorted(labels.items())}
