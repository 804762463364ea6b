"""Tunables of the indexing pipeline, as validated values with named defaults."""

from __future__ import annotations

from dataclasses import dataclass

from regsearch.logs import Consumer, Record


@dataclass(frozen=True)
class BatchPolicy:
    """A batch closes at ``max_records`` or ``max_delay_s`` after its first record;
    an idle consumer waits up to ``poll_timeout_s`` for one."""

    max_records: int = 500
    max_delay_s: float = 0.02
    poll_timeout_s: float = 0.5

    def __post_init__(self) -> None:
        if self.max_records < 1:
            raise ValueError("max_records must be at least 1")
        if self.max_delay_s < 0 or self.poll_timeout_s <= 0:
            raise ValueError("delays must be positive")


def read_batch(consumer: Consumer, policy: BatchPolicy) -> list[Record]:
    """The next batch: waits for a first record, then up to ``max_delay_s`` to fill it."""
    records = consumer.poll(policy.max_records, policy.poll_timeout_s)
    if records and len(records) < policy.max_records and policy.max_delay_s > 0:
        records += consumer.poll(policy.max_records - len(records), policy.max_delay_s)
    return records


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for a registry or log that is down; retried until stopped."""

    initial_s: float = 0.5
    max_s: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError("need 0 < initial_s <= max_s")


@dataclass(frozen=True)
class ReconcilePolicy:
    """How often the reconciler walks the catalog; it also runs at start on an empty index."""

    interval_s: float = 600.0
    # The most distribution allows. Its filesystem storage walks the repository
    # tree from the start for every page, so a walk costs pages x repositories:
    # at 10,000 repositories 60 s in pages of 100, 6 s in pages of 1,000.
    catalog_page_size: int = 1000

    def __post_init__(self) -> None:
        if self.interval_s <= 0:
            raise ValueError("reconcile interval must be positive")
        if not 1 <= self.catalog_page_size <= 1000:
            raise ValueError("catalog page size must be within 1..1000")
