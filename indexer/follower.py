"""The follower: the only writer of a search replica's Whoosh index.

It reads the document log from the offset stored in the index itself, applies
each batch in one commit together with the new offset, and so resumes exactly
where it stopped after a restart; a replay after a crash re-applies upserts
and tombstones, which is harmless.
"""

from __future__ import annotations

import logging
import threading

from indexer.consumer import read_batch, retrying
from indexer.documents import Document, document_from_json
from indexer.index import SearchIndex
from indexer.policies import BatchPolicy, RetryPolicy
from regsearch.logs import Log, Record

log = logging.getLogger(__name__)


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
        batch: BatchPolicy = BatchPolicy(max_records=1000),
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.documents = documents
        self.index = index
        self._batch = batch
        self._retry = retry

    def run(self, stop: threading.Event) -> None:
        """Apply batches until ``stop`` is set."""
        while not stop.is_set():
            applied = 0
            for attempt in retrying(self._retry, stop, "following the document log"):
                with attempt:
                    applied = self.run_once(stop)
            if not applied:
                stop.wait(self._batch.poll_interval_s)

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Apply one batch; returns how many records it applied."""
        offset = self.index.applied_offset()
        records = read_batch(self.documents, offset, self._batch, stop or threading.Event())
        if records:
            self.index.apply([decode_change(r) for r in records], records[-1].offset + 1)
        return len(records)

    def caught_up(self) -> bool:
        """True when every document appended so far is in the index."""
        return self.index.applied_offset() >= self.documents.end_offset()
