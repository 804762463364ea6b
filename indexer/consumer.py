"""The indexer loop: event log in, document log out, offsets committed last.

For each batch: decode, ask the worker, append the documents (durable), keep
the poison events in the dead letters, update the state, and only then commit
the event-log offset. A crash anywhere replays the batch, which is harmless
because documents are idempotent upserts and tombstones.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import tenacity

from indexer.documents import document_to_json
from indexer.policies import BatchPolicy, RetryPolicy
from indexer.registry import TransientError, Unauthorized
from indexer.state import IndexerState
from indexer.worker import BatchResult, Worker
from regsearch.logs import DeadLetters, Log, LogUnavailable, Message, Record
from webhooks.events import Event

log = logging.getLogger(__name__)

GROUP = "indexer"
RETRYABLE = (TransientError, Unauthorized, LogUnavailable)
Poison = tuple[str, bytes]  # (reason, raw record value)


def read_batch(source: Log, offset: int, policy: BatchPolicy, stop: threading.Event) -> list[Record]:
    """Records from ``offset``; waits up to ``max_delay_s`` to fill a started batch."""
    records = source.read(offset, policy.max_records)
    if records and len(records) < policy.max_records and policy.max_delay_s > 0:
        stop.wait(policy.max_delay_s)
        more = source.read(records[-1].offset + 1, policy.max_records - len(records))
        records.extend(more)
    return records


def retrying(policy: RetryPolicy, stop: threading.Event, what: str) -> tenacity.Retrying:
    """Retry transient failures with exponential backoff until they pass or ``stop`` is set."""

    def warn(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0
        log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)

    def pause(seconds: float) -> None:
        stop.wait(seconds)  # a stop cuts the pause short

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(RETRYABLE),
        wait=tenacity.wait_exponential(multiplier=policy.initial_s, max=policy.max_s),
        stop=lambda _state: stop.is_set(),
        sleep=pause,
        before_sleep=warn,
        reraise=True,
    )


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
        while not stop.is_set():
            try:
                if self.run_once(stop) == 0:
                    stop.wait(self._batch.poll_interval_s)
            except RETRYABLE:
                if not stop.is_set():
                    raise

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Process one batch; returns how many event-log records it consumed."""
        stop = stop or threading.Event()
        offset = self.events.committed(GROUP)
        records = read_batch(self.events, offset, self._batch, stop)
        if not records:
            return 0
        events, poison = decode(records, self._state.applied_through())
        result = self._retry_call(stop, "indexing", lambda: self._worker.process(events))
        next_offset = records[-1].offset + 1
        self._retry_call(stop, "writing", lambda: self._write(result, poison, next_offset))
        return len(records)

    def _retry_call(self, stop: threading.Event, what: str, fn):  # type: ignore[no-untyped-def]
        for attempt in retrying(self._retry, stop, what):
            with attempt:
                return fn()
        raise AssertionError("unreachable")

    def _write(self, result: BatchResult, poison: Sequence[Poison], next_offset: int) -> None:
        self._documents.append(
            [Message(doc_id, None if doc is None else document_to_json(doc)) for doc_id, doc in result.changes]
        )
        dead = [*poison, *((d.reason, d.event.to_json()) for d in result.dead)]
        for reason, raw in dead:
            self._dead.add("indexer", reason, raw)
        self._state.apply(result.state, through=next_offset)
        self.events.commit(GROUP, next_offset)

    def lag(self) -> int:
        """Records appended but not yet committed by the indexer."""
        return self.events.end_offset() - max(self.events.committed(GROUP), 1)


def decode(records: Sequence[Record], pulls_through: int) -> tuple[list[Event], list[Poison]]:
    """Events to process, and records that do not decode as events.

    Pull events below ``pulls_through`` were already counted before a crash,
    so they are dropped here to keep the counts exact on replay.
    """
    events: list[Event] = []
    poison: list[Poison] = []
    for record in records:
        try:
            event = Event.from_json(record.value or b"")
        except (ValueError, TypeError) as exc:
            poison.append((f"event-log offset {record.offset}: undecodable event: {exc}", record.value or b""))
            continue
        if not (event.action == "pull" and record.offset < pulls_through):
            events.append(event)
    return events, poison
