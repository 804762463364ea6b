"""The indexer loop: event log in, document log out, positions committed last.

For each batch: decode, ask the worker, append the documents (durable), keep
the poison events in the dead letters, update the state, and only then commit
the event-log positions. A crash anywhere replays the batch, which is
harmless: documents are idempotent upserts and tombstones, and pull counts
remember the offset they are counted through.

Most notifications are pulls, and each rewrote its repository's document
(through the follower, the largest cost of the soak benchmark outside the
serving process). A repository document that changes by its pull counts
alone is therefore held back up to ``PULL_DOCUMENT_DELAY_S`` (the latest
replacing the one held), and written then or when the log goes idle, so a
popular repository's many pulls become one rewrite. Its pulls are counted
in the state at once; the event-log commit stops before the first event
whose pulls a held document carries, so a crash replays those events, and
a replayed pull that was counted already (below the repository's
``pulls_through``) has its repository's document written again from the
state instead of being counted twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from indexer.documents import document_to_json
from indexer.metrics import timed
from indexer.policies import BatchPolicy, RetryPolicy, read_batch
from indexer.retry import RETRYABLE, retrying
from indexer.state import IndexerState, RepoKey
from indexer.worker import BatchResult, Change, Worker
from regsearch.logs import Consumer, DeadLetters, Log, Message, Positions, Record, next_positions
from webhooks.events import Event

log = logging.getLogger(__name__)

GROUP = "indexer"
Poison = tuple[str, bytes]  # (reason, raw record value)
T = TypeVar("T")

# How late a repository's new pull counts may reach the index (see the module's docstring).
PULL_DOCUMENT_DELAY_S = 2.0


@dataclass(frozen=True)
class Decoded:
    """A batch's records as the worker takes them (see :func:`decode`)."""

    events: list[Event]
    poison: list[Poison]
    pulls_through: dict[RepoKey, int]  # per repository, the offset its pulls are counted through
    recounted: set[RepoKey]  # repositories with pulls counted before: their documents are written again
    first: dict[RepoKey, tuple[int, int]]  # per repository, (partition, offset) of its first record


@dataclass(frozen=True)
class _Held:
    """A repository document held back, and where the events whose pulls it carries begin."""

    change: Change
    partition: int
    offset: int
    since: float


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
        pull_delay_s: float = PULL_DOCUMENT_DELAY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.events = events
        self._documents = documents
        self._dead = dead_letters
        self._state = state
        self._worker = worker
        self._batch = batch
        self._retry = retry
        self._pull_delay_s = pull_delay_s
        self._clock = clock
        self._held: dict[str, _Held] = {}  # by document id
        self._read: dict[int, int] = {}  # per partition, the position after the last record processed

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
            if self._held:  # what is held would be replayed anyway; written now, it is not late
                try:
                    self._write(consumer, None, [], {}, flush_all=True)
                except RETRYABLE as exc:
                    log.warning("held pull counts not written at stop (%s); the next start writes them", exc)
        finally:
            self._held.clear()  # a later run must not write these over what a replay wrote since
            self._read.clear()
            consumer.close()

    def drain(self, until: Positions, progress: Callable[[int], None] = lambda n: None) -> None:
        """Process batches until the group has committed ``until``; for one-shot runs."""
        consumer = self.events.consumer(GROUP)
        stop = threading.Event()
        try:
            while any(self.events.committed(GROUP).get(p, 0) < end for p, end in until.items()):
                progress(self.process_batch(consumer, stop))
            if self._held:  # appended after ``until``: a one-shot run writes them before it ends
                self._retry_call(stop, "writing", lambda: self._write(consumer, None, [], {}, flush_all=True))
        finally:
            self._held.clear()  # a later run must not write these over what a replay wrote since
            self._read.clear()
            consumer.close()

    def process_batch(self, consumer: Consumer, stop: threading.Event) -> int:
        """Process the next batch; returns how many records it consumed. With none to read,
        writes the documents held back (see the module's docstring)."""
        records = read_batch(consumer, self._batch)
        self._forget_revoked(consumer)
        if not records:
            if self._held:
                self._retry_call(stop, "writing", lambda: self._write(consumer, None, [], {}, flush_all=True))
            return 0
        with timed("indexer_batch", "indexer batch", len(records)):
            self._retry_call(stop, "reading the indexer state", self._state.refresh)
            decoded = decode(records, self._state)
            result = self._retry_call(stop, "indexing", lambda: self._worker.process(
                decoded.events, decoded.pulls_through, decoded.recounted))
            self._read = next_positions(records, self._read)
            self._retry_call(stop, "writing", lambda: self._write(consumer, result, decoded.poison, decoded.first))
        return len(records)

    def _forget_revoked(self, consumer: Consumer) -> None:
        """Drop what is held for partitions this member no longer owns: their next owner replays
        the events from the last commit, and must not find an older count written after its own."""
        owned = consumer.partitions()
        if owned is None:
            return
        self._held = {doc_id: held for doc_id, held in self._held.items() if held.partition in owned}
        self._read = {partition: at for partition, at in self._read.items() if partition in owned}

    def _retry_call(self, stop: threading.Event, what: str, fn: Callable[[], T]) -> T:
        for attempt in retrying(self._retry, stop, what):
            with attempt:
                return fn()
        raise AssertionError("unreachable: retrying re-raises when it stops")

    def _write(
        self, consumer: Consumer, result: BatchResult | None, poison: Sequence[Poison],
        first: Mapping[RepoKey, tuple[int, int]], *, flush_all: bool = False,
    ) -> None:
        """Append the batch's documents and those held long enough, dead-letter, update the state,
        then commit up to the first event a document still held carries. Safe to call again
        after a failure (appends are idempotent, the state counts pulls once)."""
        now = self._clock()
        changes, pulls_only = (result.changes, result.pulls_only) if result else ((), {})
        written: list[Change] = []
        for change in changes:
            key = pulls_only.get(change[0])
            if key is None:
                self._held.pop(change[0], None)  # a later document carries every count the held one does
                written.append(change)
                continue
            held = self._held.get(change[0])
            partition, offset = (held.partition, held.offset) if held else first[key]
            self._held[change[0]] = _Held(change, partition, offset, held.since if held else now)
        due = [doc_id for doc_id, held in self._held.items() if flush_all or now - held.since >= self._pull_delay_s]
        written += [self._held[doc_id].change for doc_id in due]
        self._documents.append([Message(doc_id, None if doc is None else document_to_json(doc)) for doc_id, doc in written])
        for reason, raw in [*poison, *((d.reason, d.event.to_json()) for d in (result.dead if result else ()))]:
            log.warning("dead-lettered: %s", reason)
            self._dead.add("indexer", reason, raw)
        if result is not None:
            self._state.apply(result.state)
        for doc_id in due:
            del self._held[doc_id]
        positions = dict(self._read)
        for held in self._held.values():
            positions[held.partition] = min(positions.get(held.partition, held.offset), held.offset)
        if positions:
            consumer.commit(positions)


def decode(records: Sequence[Record], state: IndexerState) -> Decoded:
    """Events to process, records that are no events, and per repository the offset its pulls
    will be counted through and where its first record is.

    Pull events below a repository's stored mark were counted before a crash
    and are dropped, so counts stay exact on replay; their repository is
    ``recounted``, so its document is written again (it may have been held
    back when the crash came).
    """
    decoded = Decoded([], [], {}, set(), {})
    for record in records:
        try:
            event = Event.from_json(record.value or b"")
        except (ValueError, TypeError) as exc:
            decoded.poison.append((f"event-log offset {record.offset}: undecodable event: {exc}", record.value or b""))
            continue
        key = (event.registry, event.repository)
        decoded.first.setdefault(key, (record.partition, record.offset))
        if event.action == "pull" and record.offset < state.pulls_through(*key):
            decoded.recounted.add(key)
            continue
        decoded.events.append(event)
        decoded.pulls_through[key] = record.offset + 1
    return decoded
