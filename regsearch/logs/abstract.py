"""Interfaces of the logs, shared by the SQLite and Kafka backends.

A log is a set of partitions, each an append-only sequence of keyed records
addressed by offset; all records of one key land in one partition, in order.
A *position* maps each partition to the offset of the next record wanted.
Consumers commit positions only after their own output is durable
(at-least-once); a replay after a crash is expected and harmless.

    LogUnavailable  -- the log cannot take or give records now; retry later
                       (the webhook answers 503, a worker backs off).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Positions = Mapping[int, int]
"""Partition -> offset of the next record wanted."""


class LogUnavailable(Exception):
    """The backend could not make an append durable or serve a read."""


@dataclass(frozen=True)
class Message:
    """What a producer appends. ``value=None`` is a tombstone.

    ``dedupe_id``, when given, lets the backend skip a message it has already
    taken (registry retries). The SQLite log does so durably; Kafka
    remembers recent ids per process, and consumers stay idempotent.
    """

    key: str
    value: bytes | None
    dedupe_id: str | None = None


@dataclass(frozen=True)
class Record:
    """What a consumer reads: a message and where it sits in the log."""

    partition: int
    offset: int
    key: str
    value: bytes | None


def next_positions(records: Sequence[Record], start: Positions | None = None) -> dict[int, int]:
    """``start`` moved past every record in ``records``."""
    positions = dict(start or {})
    for record in records:
        positions[record.partition] = max(positions.get(record.partition, 0), record.offset + 1)
    return positions


def behind(positions: Positions, ends: Positions) -> int:
    """How many records lie between ``positions`` and ``ends``."""
    return sum(max(0, end - positions.get(p, 0)) for p, end in ends.items())


class Consumer(ABC):
    """Reads a log in order within each partition."""

    @abstractmethod
    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        """Up to ``max_records`` next records; waits up to ``timeout_s`` for the first."""

    @abstractmethod
    def commit(self, positions: Positions) -> None:
        """Durably record the group's progress (group consumers only)."""

    def partitions(self) -> set[int] | None:
        """The partitions the group gave this member (None: it reads them all)."""
        return None

    def close(self) -> None:
        """Leave the group and release connections."""


class Log(ABC):
    """An append-only, partitioned, keyed log."""

    @abstractmethod
    def append(self, messages: Sequence[Message]) -> int:
        """Append all messages; return how many were new.

        Returns only once they are durable. Raises ``LogUnavailable`` when
        they are not; the caller must then treat none of them as appended.
        """

    @abstractmethod
    def end_offsets(self) -> dict[int, int]:
        """Per partition, the offset the next appended record will get."""

    @abstractmethod
    def committed(self, group: str) -> dict[int, int]:
        """The positions ``group`` committed (empty when it never did)."""

    @abstractmethod
    def consumer(self, group: str) -> Consumer:
        """A member of ``group``, starting at the group's committed positions.

        With several members, the backend divides the partitions among them.
        """

    @abstractmethod
    def reader(self, start: Positions) -> Consumer:
        """Every partition from ``start`` (unlisted ones from the beginning),
        outside any group; the caller keeps its own positions."""

    def close(self) -> None:
        """Release connections; the log is unusable afterwards."""


@dataclass(frozen=True)
class DeadLetter:
    """Input that could not be used, kept with why, for inspection and replay."""

    id: int
    time: str
    source: str
    reason: str
    raw: bytes


class DeadLetters(ABC):
    """Where poison input goes so that the pipeline moves on."""

    @abstractmethod
    def add(self, source: str, reason: str, raw: bytes) -> None:
        """Durably keep ``raw`` with ``reason``; ``source`` says who failed
        (``webhook`` for notification bodies, ``indexer`` for events)."""

    @abstractmethod
    def list(self) -> list[DeadLetter]:
        """Everything kept, oldest first."""

    @abstractmethod
    def remove(self, ids: Sequence[int]) -> None:
        """Forget the given entries (after a successful replay)."""

    def close(self) -> None:
        """Release connections."""
