"""How far the service's pipeline got: events received (from ``/metrics``) and tags searchable.

Sampled in a thread during a load, this tells a slow notification stream
from a slow indexer: the time until the receiver accepted every push event,
and the time until every tag was searchable.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample as MetricSample

from bench.stack import BenchStack

SAMPLE_INTERVAL_S = 0.5


def scrape(service_url: str) -> list[MetricSample]:
    """Every sample the service's ``/metrics`` exposes, parsed by ``prometheus_client``."""
    text = requests.get(f"{service_url}/metrics", timeout=10).text
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def webhook_counters(service_url: str) -> dict[str, float]:
    """``regsearch_webhook_*_total`` samples from ``/metrics``, keyed ``name{labels}``."""
    return counters_in(scrape(service_url))


def counters_in(samples: list[MetricSample]) -> dict[str, float]:
    """The ``regsearch_webhook_*_total`` values among ``samples``, keyed ``name{labels}``."""
    return {
        _key(s): s.value for s in samples
        if s.name.startswith("regsearch_webhook_") and s.name.endswith("_total") and s.labels
    }


def _key(sample: MetricSample) -> str:
    labels = ",".join(f'{name}="{value}"' for name, value in sample.labels.items())
    return f"{sample.name}{{{labels}}}"


STAGES = (
    "regsearch_webhook_event_delay_seconds",
    "regsearch_webhook_request_seconds",
    "regsearch_indexer_batch_seconds",
    "regsearch_index_commit_seconds",
)


def stage_histograms(service_url: str) -> dict[str, dict[str, float]]:
    """The cumulative bucket counts (``le`` -> count) of each of :data:`STAGES` the service exposes."""
    histograms: dict[str, dict[str, float]] = {}
    for sample in scrape(service_url):
        name = sample.name.removesuffix("_bucket")
        if sample.name.endswith("_bucket") and name in STAGES:
            histograms.setdefault(name, {})[sample.labels["le"]] = sample.value
    return histograms


def stage_figures(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Per stage, between two :func:`stage_histograms`: how many were observed, and the bucket
    bounds (seconds) that the median and the 99th percentile fall under."""
    figures: dict[str, Any] = {}
    for name, buckets in after.items():
        counts = {le: n - before.get(name, {}).get(le, 0.0) for le, n in buckets.items()}
        total = counts.get("+Inf", 0.0)
        if total:
            figures[name.removeprefix("regsearch_")] = {
                "count": int(total),
                "median_under_s": _bound(counts, total * 0.5),
                "p99_under_s": _bound(counts, total * 0.99),
            }
    return figures


def _bound(counts: dict[str, float], rank: float) -> str:
    for le, n in sorted(counts.items(), key=lambda item: float(item[0])):
        if n >= rank:
            return le
    return "+Inf"


def index_settled(service_url: str) -> bool:
    """Whether the service's follower is idle with nothing left to merge; see :func:`settled_in`."""
    return settled_in(scrape(service_url))


def settled_in(samples: list[MetricSample]) -> bool:
    """Whether ``regsearch_index_settled`` is 1 among ``samples``; True for a process without a follower."""
    gauge = [s.value for s in samples if s.name == "regsearch_index_settled"]
    return gauge in ([], [1.0])


def accepted_events(counters: dict[str, float]) -> int:
    """Events the receiver accepted into the event log."""
    return int(counters.get('regsearch_webhook_events_total{outcome="accepted"}', 0))


@dataclass(frozen=True)
class Sample:
    """One look at the pipeline, ``at`` seconds after sampling started."""

    at: float
    accepted: int
    tags: int


class PipelineSampler:
    """Samples accepted events and searchable tags every ``SAMPLE_INTERVAL_S`` until stopped."""

    def __init__(self, stack: BenchStack) -> None:
        self.stack = stack
        self.samples: list[Sample] = []
        self._start = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pipeline-sampler", daemon=True)

    def __enter__(self) -> PipelineSampler:
        self._start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._sample()  # so the end state is in the timeline however short the run

    def _sample(self) -> None:
        try:
            accepted = accepted_events(webhook_counters(self.stack.service.url))
            self.samples.append(Sample(time.monotonic() - self._start, accepted, self.stack.indexed("tag")))
        except requests.RequestException:
            pass  # a missed sample only coarsens the timeline

    def first_reaching(self, field: str, value: int) -> float | None:
        """Seconds until the sampled ``field`` (``accepted`` or ``tags``) first reached ``value``."""
        return next((s.at for s in self.samples if getattr(s, field) >= value), None)

    def timeline(self, points: int = 40) -> list[dict[str, Any]]:
        """At most ``points`` evenly spaced samples, for plotting progress."""
        step = max(1, len(self.samples) // points)
        return [{"at_s": round(s.at, 1), "accepted": s.accepted, "tags": s.tags} for s in self.samples[::step]]

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL_S):
            self._sample()


def wait_quiet(stack: BenchStack, quiet_s: float = 2.0, timeout_s: float = 60.0) -> tuple[bool, float]:
    """Wait until no notification reached the service for ``quiet_s`` and its
    index has settled (at most ``timeout_s``).

    The indexer's own manifest fetches come back as pull notifications after
    a load, and the follower then merges the load's segments; timing queries
    or pushes while either still runs would time the load too.
    Returns whether it went quiet, and the seconds waited.
    """
    started = time.monotonic()
    samples = scrape(stack.service.url)
    last, last_change = counters_in(samples), started
    while time.monotonic() - started < timeout_s:
        quiet = time.monotonic() - last_change >= quiet_s
        if quiet and settled_in(samples):
            return True, time.monotonic() - started
        time.sleep(0.25)
        samples = scrape(stack.service.url)
        now = counters_in(samples)
        if now != last:
            last, last_change = now, time.monotonic()
    return False, time.monotonic() - started
