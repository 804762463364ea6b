"""Logging that never writes a secret: tokens, passwords and credentials are redacted.

A log line can carry a secret without anyone meaning it to: an exception
message quoting a URL with ``user:password@``, a request's ``Authorization``
header, a token endpoint's answer, Kafka's SASL settings. Every handler of
a ``regsearch`` process formats through :class:`RedactingFormatter`, which
removes the secrets the settings hold (webhook tokens, registry and Kafka
passwords) wherever they appear, and anything shaped like a credential: a
``Basic``/``Bearer`` value, a ``password=``/``token=`` value, URL user
info, a JWT. Tracebacks are formatted first and redacted with the rest.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"
# A configured secret shorter than this is not searched for: it would redact ordinary words.
MIN_SECRET_LENGTH = 6

_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(basic|bearer)(\s+)[A-Za-z0-9._~+/=-]{6,}"), rf"\1\2{REDACTED}"),
    (re.compile(r"(?i)\b([a-z_]*(?:password|passwd|pwd|secret|token|api_key))"
                r"(\"?'?\s*[=:]\s*\"?'?)[^\s&,;'\"]+"), rf"\1\2{REDACTED}"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), rf"\1{REDACTED}@"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without ``secrets`` and without anything shaped like a credential."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= MIN_SECRET_LENGTH:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """A ``logging.Formatter`` whose every line (traceback included) goes through :func:`redact`."""

    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self._secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


def configure_logging(level: str | int, fmt: str, secrets: Iterable[str] = ()) -> None:
    """The root logger at ``level``, writing to stderr through a :class:`RedactingFormatter`."""
    logging.basicConfig(level=level, format=fmt)
    formatter = RedactingFormatter(fmt, secrets)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
