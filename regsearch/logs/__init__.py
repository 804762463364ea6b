"""The durable logs every process shares: events, documents, dead letters."""

from regsearch.logs.abstract import (
    Consumer,
    DeadLetter,
    DeadLetters,
    Log,
    LogUnavailable,
    Message,
    Positions,
    Record,
    behind,
    next_positions,
)

__all__ = [
    "Consumer", "DeadLetter", "DeadLetters", "Log", "LogUnavailable", "Message", "Positions", "Record",
    "behind", "next_positions",
]
