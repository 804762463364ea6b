"""Logs in memory: the interfaces without durability, for unit tests and throwaway runs."""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Sequence

from regsearch.logs.abstract import (
    Consumer,
    DeadLetter,
    DeadLetters,
    Log,
    Message,
    Positions,
    Record,
    next_positions,
)


class MemoryLog(Log):
    """A log in lists, one per partition; a key's partition is its crc32 modulo their number."""

    def __init__(self, partitions: int = 1) -> None:
        self.partitions: list[list[Record]] = [[] for _ in range(partitions)]
        self._seen: set[str] = set()
        self._committed: dict[str, dict[int, int]] = {}
        self._appended = threading.Condition()

    @property
    def records(self) -> list[Record]:
        """Every record, partition by partition."""
        return [r for partition in self.partitions for r in partition]

    def append(self, messages: Sequence[Message]) -> int:
        with self._appended:
            new = [m for m in messages if self._is_new(m)]
            for message in new:
                partition = zlib.crc32(message.key.encode()) % len(self.partitions)
                records = self.partitions[partition]
                records.append(Record(partition, len(records), message.key, message.value))
            self._appended.notify_all()
        return len(new)

    def _is_new(self, message: Message) -> bool:
        if message.dedupe_id is None:
            return True
        if message.dedupe_id in self._seen:
            return False
        self._seen.add(message.dedupe_id)
        return True

    def read(self, positions: Positions, limit: int) -> list[Record]:
        """Up to ``limit`` records after ``positions``, partition by partition."""
        found: list[Record] = []
        for number, records in enumerate(self.partitions):
            found += records[positions.get(number, 0) :][: limit - len(found)]
        return found

    def wait_for_append(self, timeout_s: float) -> None:
        with self._appended:
            self._appended.wait(timeout_s)

    def end_offsets(self) -> dict[int, int]:
        return {number: len(records) for number, records in enumerate(self.partitions)}

    def committed(self, group: str) -> dict[int, int]:
        return dict(self._committed.get(group, {}))

    def commit_group(self, group: str, positions: Positions) -> None:
        self._committed.setdefault(group, {}).update(positions)

    def consumer(self, group: str) -> Consumer:
        return MemoryConsumer(self, group, self.committed(group))

    def reader(self, start: Positions) -> Consumer:
        return MemoryConsumer(self, None, start)


class MemoryConsumer(Consumer):
    """Reads a ``MemoryLog`` from a position it keeps (every partition: no rebalancing)."""

    def __init__(self, log: MemoryLog, group: str | None, start: Positions) -> None:
        self._log = log
        self._group = group
        self._position = dict(start)

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        deadline = time.monotonic() + timeout_s
        while not (records := self._log.read(self._position, max_records)):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            self._log.wait_for_append(remaining)
        self._position = next_positions(records, self._position)
        return records

    def commit(self, positions: Positions) -> None:
        if self._group is None:
            raise TypeError("a reader has no group to commit for")
        self._log.commit_group(self._group, positions)


class MemoryDeadLetters(DeadLetters):
    """Dead letters in a list."""

    def __init__(self) -> None:
        self.entries: list[DeadLetter] = []

    def add(self, source: str, reason: str, raw: bytes) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.entries.append(DeadLetter(len(self.entries) + 1, stamp, source, reason, raw))

    def list(self) -> list[DeadLetter]:
        return list(self.entries)

    def remove(self, ids: Sequence[int]) -> None:
        self.entries = [e for e in self.entries if e.id not in ids]
