"""The indexer loop: event log in, document log out, positions committed last.

For each batch: decode, ask the worker, append the documents (durable), keep
the poison events in the dead letters, update the state, and only then commit
the event-log positions. A crash anywhere replays the batch, which is
harmless: documents are idempotent upserts and tombstones, and pull counts
remember the offset they are counted through.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from indexer.documents import document_to_json
from indexer.metrics import timed
from indexer.policies import BatchPolicy, RetryPolicy, read_batch
from indexer.retry import RETRYABLE, retrying
from indexer.state import IndexerState, RepoKey
from indexer.worker import BatchResult, Worker
from regsearch.logs import Consumer, DeadLetters, Log, Message, Positions, Record, next_positions
from webhooks.events import Event

log = logging.getLogger(__name__)

GROUP = "indexer"
Poison = tuple[str, bytes]  # (reason, raw record value)
T = TypeVar("T")


class IndexerConsumer:
    """Consumes the event log as group ``indexer`` and feeds the document log."""

    def __init__(
        self,
        events: Log,
        documents: Log,
        dead_letters: DeadLetters,
        state: IndexerState,
        worker: Worker,
        *,
        batch: BatchPolicy = BatchPolicy(),
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.events = events
        self._documents = documents
        self._dead = dead_letters
        self._state = state
        self._worker = worker
        self._batch = batch
        self._retry = retry

    def run(self, stop: threading.Event) -> None:
        """Process batches until ``stop`` is set; the current batch finishes first."""
        consumer = self.events.consumer(GROUP)
        try:
            while not stop.is_set():
                try:
                    self.process_batch(consumer, stop)
                except RETRYABLE:
                    if not stop.is_set():
                        raise
        finally:
            consumer.close()

    def drain(self, until: Positions, progress: Callable[[int], None] = lambda n: None) -> None:
        """Process batches until the group has committed ``until``; for one-shot runs."""
        consumer = self.events.consumer(GROUP)
        stop = threading.Event()
        try:
            while any(self.events.committed(GROUP).get(p, 0) < end for p, end in until.items()):
                progress(self.process_batch(consumer, stop))
        finally:
            consumer.close()

    def process_batch(self, consumer: Consumer, stop: threading.Event) -> int:
        """Process the next batch; returns how many records it consumed."""
        records = read_batch(consumer, self._batch)
        if not records:
            return 0
        with timed("indexer_batch", "indexer batch", len(records)):
            self._retry_call(stop, "reading the indexer state", self._state.refresh)
            events, poison, pulls_through = decode(records, self._state)
            result = self._retry_call(stop, "indexing", lambda: self._worker.process(events, pulls_through))
            positions = next_positions(records)
            self._retry_call(stop, "writing", lambda: self._write(consumer, result, poison, positions))
        return len(records)

    def _retry_call(self, stop: threading.Event, what: str, fn: Callable[[], T]) -> T:
        for attempt in retrying(self._retry, stop, what):
            with attempt:
                return fn()
        raise AssertionError("unreachable: retrying re-raises when it stops")

    def _write(self, consumer: Consumer, result: BatchResult, poison: Sequence[Poison], positions: Positions) -> None:
        self._documents.append(
            [Message(doc_id, None if doc is None else document_to_json(doc)) for doc_id, doc in result.changes]
        )
        for reason, raw in [*poison, *((d.reason, d.event.to_json()) for d in result.dead)]:
            log.warning("dead-lettered: %s", reason)
            self._dead.add("indexer", reason, raw)
        self._state.apply(result.state)
        consumer.commit(positions)


def decode(records: Sequence[Record], state: IndexerState) -> tuple[list[Event], list[Poison], dict[RepoKey, int]]:
    """Events to process, records that are no events, and per repository the
    offset its pulls will be counted through.

    Pull events below a repository's stored mark were counted before a crash
    and are dropped, so counts stay exact on replay.
    """
    events: list[Event] = []
    poison: list[Poison] = []
    through: dict[RepoKey, int] = {}
    for record in records:
        try:
            event = Event.from_json(record.value or b"")
        except (ValueError, TypeError) as exc:
            poison.append((f"event-log offset {record.offset}: undecodable event: {exc}", record.value or b""))
            continue
        key = (event.registry, event.repository)
        if event.action == "pull" and record.offset < state.pulls_through(*key):
            continue
        events.append(event)
        through[key] = record.offset + 1
    return events, poison, through
