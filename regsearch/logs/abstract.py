"""Interfaces of the logs, shared by the SQLite and Kafka backends.

A log is an append-only sequence of keyed records addressed by offset.
Offsets grow with every append; a consumer group commits the offset of the
*next* record it wants, after its own output is durable (at-least-once).

    LogUnavailable  -- the log cannot take or give records now; retry later
                       (the webhook answers 503, a worker backs off).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


class LogUnavailable(Exception):
    """The backend could not make an append durable or serve a read."""


@dataclass(frozen=True)
class Message:
    """What a producer appends. ``value=None`` is a tombstone.

    ``dedupe_id``, when given, makes the append idempotent: a message whose
    id the log has already taken is skipped (registry retries, replays).
    """

    key: str
    value: bytes | None
    dedupe_id: str | None = None


@dataclass(frozen=True)
class Record:
    """What a consumer reads: a message and its offset in the log."""

    offset: int
    key: str
    value: bytes | None


class Log(ABC):
    """An append-only keyed log with committed offsets per consumer group."""

    @abstractmethod
    def append(self, messages: Sequence[Message]) -> int:
        """Append all messages atomically; return how many were new.

        Returns only once they are durable. Raises ``LogUnavailable`` when
        they are not; then none of them was appended.
        """

    @abstractmethod
    def read(self, offset: int, limit: int) -> list[Record]:
        """Up to ``limit`` records with offsets ``>= offset``, in order."""

    @abstractmethod
    def end_offset(self) -> int:
        """The offset the next appended record will get."""

    @abstractmethod
    def committed(self, group: str) -> int:
        """The next offset ``group`` wants (0 when it never committed)."""

    @abstractmethod
    def commit(self, group: str, offset: int) -> None:
        """Durably record that ``group`` has finished everything before ``offset``."""

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
