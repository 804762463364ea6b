"""The in-memory logs, with switches that make them fail, for the receiver's tests."""

from __future__ import annotations

from collections.abc import Sequence

from regsearch.logs import LogUnavailable, Message
from regsearch.logs.memory import MemoryDeadLetters as _MemoryDeadLetters
from regsearch.logs.memory import MemoryLog as _MemoryLog


class MemoryLog(_MemoryLog):
    """``unavailable = True`` makes appends fail, as a backend that cannot make them durable does."""

    def __init__(self) -> None:
        super().__init__()
        self.append_calls = 0
        self.unavailable = False

    def append(self, messages: Sequence[Message]) -> int:
        self.append_calls += 1
        if self.unavailable:
            raise LogUnavailable("memory log switched off")
        return super().append(messages)


class MemoryDeadLetters(_MemoryDeadLetters):
    """``failure``, when set, is raised by ``add``."""

    def __init__(self) -> None:
        super().__init__()
        self.failure: Exception | None = None

    def add(self, source: str, reason: str, raw: bytes) -> None:
        if self.failure is not None:
            raise self.failure
        super().add(source, reason, raw)
