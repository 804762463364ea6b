"""How to reach Kafka: one validated value shared by producers, consumers and admin.

Unsafe or contradictory settings raise ``ValueError`` when the value is
made, with what to change, so a process refuses to start rather than run
half-configured (credentials silently ignored, TLS files unused).

Every client failure becomes ``LogUnavailable`` through ``unavailable()``:
callers above the log never see a kafka-python exception.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kafka.errors import KafkaError

from regsearch.logs.abstract import LogUnavailable

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
MIN_SESSION_TIMEOUT_S = 6.0  # the broker's default group.min.session.timeout.ms


@dataclass(frozen=True)
class KafkaSettings:
    """Where the topics live and how to authenticate; see ``client_options()``.

    ``partitions`` and ``replication_factor`` apply when ``ensure_topics``
    creates the topics. ``append_timeout_s`` bounds an append (connecting
    included), so the webhook answers 503 inside the registry's 1 s timeout.
    ``session_timeout_s`` is how long a dead group member keeps its
    partitions before the others get them.
    """

    bootstrap: str
    topic_prefix: str = "regsearch"
    partitions: int = 6
    replication_factor: int = 1
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    client_id: str = "regsearch"
    append_timeout_s: float = 0.8
    connect_timeout_s: float = 10.0
    session_timeout_s: float = 10.0
    dedupe_memory: int = 100_000

    def __post_init__(self) -> None:
        for problem in (*self._shape_problems(), *self._security_problems()):
            raise ValueError(f"Kafka settings: {problem}")

    def _shape_problems(self) -> Iterator[str]:
        if not self.servers():
            yield "bootstrap must list HOST:PORT[,HOST:PORT...]"
        for server in self.servers():
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit():
                yield f"bootstrap server {server!r} is not HOST:PORT"
        if not self.topic_prefix or any(c not in _TOPIC_CHARS for c in self.topic_prefix):
            yield f"topic_prefix {self.topic_prefix!r} may hold only letters, digits, '.', '_' and '-'"
        if self.partitions < 1 or self.replication_factor < 1:
            yield "partitions and replication_factor must be at least 1"
        if not 0 < self.append_timeout_s <= self.connect_timeout_s:
            yield "append_timeout_s must be positive and at most connect_timeout_s"
        if self.session_timeout_s < MIN_SESSION_TIMEOUT_S:
            yield f"session_timeout_s below {MIN_SESSION_TIMEOUT_S} is refused by the broker"
        if self.dedupe_memory < 0:
            yield "dedupe_memory cannot be negative"

    def _security_problems(self) -> Iterator[str]:
        protocol = self.security_protocol
        if protocol not in SECURITY_PROTOCOLS:
            yield f"security_protocol must be one of {', '.join(SECURITY_PROTOCOLS)}, not {protocol!r}"
        if protocol.startswith("SASL_"):
            if self.sasl_mechanism not in SASL_MECHANISMS:
                yield f"{protocol} needs sasl_mechanism, one of {', '.join(SASL_MECHANISMS)}"
            if not (self.sasl_username and self.sasl_password):
                yield f"{protocol} needs sasl_username and sasl_password"
        elif self.sasl_mechanism or self.sasl_username or self.sasl_password:
            yield f"SASL credentials are given but security_protocol is {protocol}: use SASL_SSL"
        if not protocol.endswith("SSL") and (self.ssl_cafile or self.ssl_certfile or self.ssl_keyfile):
            yield f"TLS files are given but security_protocol is {protocol}: use SSL or SASL_SSL"
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            yield "a client certificate needs both ssl_certfile and ssl_keyfile"

    def servers(self) -> list[str]:
        """The bootstrap servers, one ``HOST:PORT`` each."""
        return [s.strip() for s in self.bootstrap.split(",") if s.strip()]

    def topic(self, name: str) -> str:
        """The full name of one of our topics (``events``, ``docs``, ``state``, ``deadletter``)."""
        return f"{self.topic_prefix}.{name}"

    def group(self, name: str) -> str:
        """The full id of one of our consumer groups, ``<topic_prefix>.<name>``: deployments that
        share a cluster under different prefixes must not rebalance as one group."""
        return f"{self.topic_prefix}.{name}"

    def client_options(self) -> dict[str, Any]:
        """The kafka-python keyword arguments every client of ours starts from."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.servers(),
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
            "bootstrap_timeout_ms": int(self.connect_timeout_s * 1000),
            "request_timeout_ms": int(self.connect_timeout_s * 1000),
        }
        if self.security_protocol.startswith("SASL_"):
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password
        if self.security_protocol.endswith("SSL"):
            options["ssl_cafile"] = self.ssl_cafile
            options["ssl_certfile"] = self.ssl_certfile
            options["ssl_keyfile"] = self.ssl_keyfile
        return options


_TOPIC_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@contextmanager
def unavailable(what: str) -> Iterator[None]:
    """Turn any Kafka client failure inside the block into ``LogUnavailable``."""
    try:
        yield
    except KafkaError as exc:
        raise LogUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
