"""In-memory logs for unit tests of the receiver: the ABCs, minus durability."""

from __future__ import annotations

from collections.abc import Sequence

from regsearch.logs.abstract import (
    DeadLetter,
    DeadLetters,
    Log,
    LogUnavailable,
    Message,
    Record,
)


class MemoryLog(Log):
    """A log in a list. ``unavailable = True`` makes appends fail, as a
    backend that cannot make them durable does."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.append_calls = 0
        self.unavailable = False
        self._seen: set[str] = set()
        self._committed: dict[str, int] = {}

    def append(self, messages: Sequence[Message]) -> int:
        self.append_calls += 1
        if self.unavailable:
            raise LogUnavailable("memory log switched off")
        new = [m for m in messages if self._is_new(m)]
        for message in new:
            self.records.append(Record(len(self.records), message.key, message.value))
        return len(new)

    def _is_new(self, message: Message) -> bool:
        if message.dedupe_id is None:
            return True
        if message.dedupe_id in self._seen:
            return False
        self._seen.add(message.dedupe_id)
        return True

    def read(self, offset: int, limit: int) -> list[Record]:
        return self.records[offset : offset + limit]

    def end_offset(self) -> int:
        return len(self.records)

    def committed(self, group: str) -> int:
        return self._committed.get(group, 0)

    def commit(self, group: str, offset: int) -> None:
        self._committed[group] = offset


class MemoryDeadLetters(DeadLetters):
    """Dead letters in a list. ``failure``, when set, is raised by ``add``."""

    def __init__(self) -> None:
        self.entries: list[DeadLetter] = []
        self.failure: Exception | None = None

    def add(self, source: str, reason: str, raw: bytes) -> None:
        if self.failure is not None:
            raise self.failure
        entry_id = len(self.entries) + 1
        self.entries.append(DeadLetter(entry_id, "2024-01-01T00:00:00Z", source, reason, raw))

    def list(self) -> list[DeadLetter]:
        return list(self.entries)

    def remove(self, ids: Sequence[int]) -> None:
        self.entries = [e for e in self.entries if e.id not in ids]
