"""The durable logs every process shares: events, documents, dead letters."""

from regsearch.logs.abstract import (
    DeadLetter,
    DeadLetters,
    Log,
    LogUnavailable,
    Message,
    Record,
)

__all__ = ["DeadLetter", "DeadLetters", "Log", "LogUnavailable", "Message", "Record"]
