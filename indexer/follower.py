"""The follower: the only writer of a search replica's Whoosh index.

It reads every partition of the document log from the positions stored in
the index itself, applies each batch in one commit together with the new
positions, and so resumes exactly where it stopped after a restart; a replay
after a crash re-applies upserts and tombstones, which is harmless.

Batches: a batch closes ``max_delay_s`` (:data:`FOLLOWER_BATCH`, 0.25 s)
after its first record, so a burst of pushes costs a few commits a second,
not one each, and a push still becomes searchable well within 2 s. While
the log is idle, the follower compacts the index one bounded step at a time
(:meth:`SearchIndex.compact`), so searches meet few segments and commits
never wait for a large merge.
"""

from __future__ import annotations

import threading

from indexer import metrics
from indexer.documents import Document, document_from_json
from indexer.index import SearchIndex
from indexer.policies import BatchPolicy, RetryPolicy, read_batch
from indexer.retry import retrying
from regsearch.logs import Consumer, Log, Positions, Record, behind, next_positions

FOLLOWER_BATCH = BatchPolicy(max_records=1000, max_delay_s=0.25)
# Empty polls (``poll_timeout_s`` each) before the log counts as idle.
IDLE_POLLS = 2


def decode_change(record: Record) -> tuple[str, Document | None]:
    """A document-log record as an index change; ``None`` is a tombstone."""
    return record.key, None if record.value is None else document_from_json(record.value)


class Follower:
    """Keeps one index in step with the document log."""

    def __init__(
        self,
        documents: Log,
        index: SearchIndex,
        *,
        batch: BatchPolicy = FOLLOWER_BATCH,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.documents = documents
        self.index = index
        self._batch = batch
        self._retry = retry

    def run(self, stop: threading.Event) -> None:
        """Apply batches until ``stop`` is set; after a failure, resume from the index's positions."""
        for attempt in retrying(self._retry, stop, "following the document log"):
            with attempt:
                self._follow(stop)

    def _follow(self, stop: threading.Event) -> None:
        reader = self.documents.reader(self.index.applied_positions())
        idle, compacted = 0, False
        try:
            while not stop.is_set():
                idle = 0 if self.apply_batch(reader) else idle + 1
                if idle == 0:
                    compacted = False
                    metrics.record("index_settled", 0)
                elif idle >= IDLE_POLLS and not compacted:
                    compacted = not self.index.compact()
                    metrics.record("index_settled", compacted)
        finally:
            reader.close()

    def catch_up(self) -> None:
        """Apply everything appended so far, then compact the index; for one-shot runs."""
        reader = self.documents.reader(self.index.applied_positions())
        try:
            while self.lag():
                self.apply_batch(reader)
        finally:
            reader.close()
        while self.index.compact():
            pass

    def apply_batch(self, reader: Consumer) -> int:
        """Apply the next batch; returns how many records it applied."""
        records = read_batch(reader, self._batch)
        if records:
            positions = next_positions(records, self.index.applied_positions())
            with metrics.timed("index_commit", "index commit", len(records)):
                self.index.apply([decode_change(r) for r in records], positions)
        return len(records)

    def lag(self, ends: Positions | None = None) -> int:
        """Documents appended (up to ``ends``, else now) but not yet in the index."""
        return behind(self.index.applied_positions(), ends or self.documents.end_offsets())
