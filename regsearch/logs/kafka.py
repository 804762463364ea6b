"""The distributed backend: each log is a Kafka topic (see ``kafka_admin`` for the topics).

An append returns once every record is acknowledged by all in-sync replicas
(``acks="all"``, idempotent producer), and raises ``LogUnavailable`` when
that does not happen within ``KafkaSettings.append_timeout_s``; a record of
a failed append may still land later, which consumers tolerate (replays are
harmless). All records of one key go to one partition (murmur2 of the key).

Kafka cannot skip a repeated ``dedupe_id`` durably. Each process remembers
the ids it appended recently, per topic, and skips a repeat of one; a
repeat sent to another process, or after a restart, is appended again.

This package is the only place that imports kafka-python.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from kafka import KafkaConsumer, KafkaProducer

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
from regsearch.logs.kafka_admin import committed_offsets, ensure_topics
from regsearch.logs.kafka_consumers import KafkaGroupConsumer, KafkaReader, plain_consumer, topic_partitions
from regsearch.logs.kafka_settings import KafkaSettings, unavailable

__all__ = ["KafkaDeadLetters", "KafkaLog", "KafkaSettings", "ensure_topics"]

log = logging.getLogger(__name__)

LINGER_MS = 2


class RecentIds:
    """The ``dedupe_id``s appended lately, the oldest forgotten past ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def fresh(self, messages: Sequence[Message]) -> list[Message]:
        """``messages`` less those whose id was appended, or comes earlier in the batch."""
        batch: set[str] = set()
        kept = []
        with self._lock:
            for message in messages:
                if message.dedupe_id is not None:
                    if message.dedupe_id in self._ids or message.dedupe_id in batch:
                        continue
                    batch.add(message.dedupe_id)
                kept.append(message)
        return kept

    def remember(self, ids: Iterable[str | None]) -> None:
        with self._lock:
            for dedupe_id in ids:
                if dedupe_id is not None:
                    self._ids[dedupe_id] = None
                    self._ids.move_to_end(dedupe_id)
            while len(self._ids) > self.capacity:
                self._ids.popitem(last=False)


_recent: dict[tuple[str, str], RecentIds] = {}
_recent_lock = threading.Lock()


def recent_ids(settings: KafkaSettings, topic: str) -> RecentIds:
    """The process's memory of ids appended to ``topic``, shared by every ``KafkaLog`` on it."""
    with _recent_lock:
        return _recent.setdefault((settings.bootstrap, topic), RecentIds(settings.dedupe_memory))


class KafkaLog(Log):
    """One of our topics, ``<topic_prefix>.<name>``; clients connect on first use."""

    def __init__(self, settings: KafkaSettings, name: str) -> None:
        self.settings = settings
        self.topic = settings.topic(name)
        self._recent = recent_ids(settings, self.topic)
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = None
        self._metadata: KafkaConsumer | None = None

    def append(self, messages: Sequence[Message]) -> int:
        deadline = time.monotonic() + self.settings.append_timeout_s
        new = self._recent.fresh(messages)
        if not new:
            return 0
        with unavailable(f"append to {self.topic}"):
            producer = self._connected_producer()
            futures = [producer.send(self.topic, key=m.key.encode(), value=m.value) for m in new]
            for future in futures:
                future.get(timeout=max(0.0, deadline - time.monotonic()))
        self._recent.remember(m.dedupe_id for m in new)
        return len(new)

    def _connected_producer(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                self._producer = self._new_producer()
            return self._producer

    def _new_producer(self) -> KafkaProducer:
        timeout_ms = int(self.settings.append_timeout_s * 1000)
        options = self.settings.client_options()
        options.update(bootstrap_timeout_ms=timeout_ms, request_timeout_ms=timeout_ms - LINGER_MS)
        # Both set explicitly: as mere defaults a conflicting option would
        # quietly turn idempotence off; set, the conflict raises.
        return KafkaProducer(
            **options,
            acks="all",
            enable_idempotence=True,
            linger_ms=LINGER_MS,
            max_block_ms=timeout_ms,
            delivery_timeout_ms=timeout_ms,
        )

    def end_offsets(self) -> dict[int, int]:
        with self._lock, unavailable(self.topic):
            consumer = self._metadata_consumer()
            ends = consumer.end_offsets(topic_partitions(consumer, self.topic))
        return {tp.partition: int(offset) for tp, offset in ends.items()}

    def _metadata_consumer(self) -> KafkaConsumer:
        if self._metadata is None:
            self._metadata = plain_consumer(self.settings, group_id=None)
        return self._metadata

    def committed(self, group: str) -> dict[int, int]:
        return committed_offsets(self.settings, group, self.topic)

    def consumer(self, group: str) -> Consumer:
        return KafkaGroupConsumer(self.settings, self.topic, group)

    def reader(self, start: Positions) -> Consumer:
        return KafkaReader(self.settings, self.topic, start)

    def close(self) -> None:
        with self._lock, unavailable(self.topic):
            if self._producer is not None:
                self._producer.close(timeout=self.settings.connect_timeout_s)
            if self._metadata is not None:
                self._metadata.close(autocommit=False)
            self._producer = self._metadata = None


class KafkaDeadLetters(DeadLetters):
    """Dead letters in the compacted ``<topic_prefix>.deadletter`` topic.

    Each entry is a JSON record keyed by its id; removing one appends its
    tombstone, and compaction eventually drops both. Ids are the time in
    milliseconds followed by 20 random bits: unique, and ordered by age.
    """

    def __init__(self, settings: KafkaSettings) -> None:
        self._log = KafkaLog(settings, "deadletter")
        self._timeout_s = settings.connect_timeout_s

    def add(self, source: str, reason: str, raw: bytes) -> None:
        entry = DeadLetter(new_id(), _now(), source, reason, raw)
        self._log.append([Message(str(entry.id), encode_dead_letter(entry))])

    def list(self) -> list[DeadLetter]:
        entries: dict[str, DeadLetter] = {}
        for record in read_to_end(self._log, self._timeout_s):
            if record.value is None:
                entries.pop(record.key, None)
            else:
                entries[record.key] = decode_dead_letter(record.value)
        return sorted(entries.values(), key=lambda e: e.id)

    def remove(self, ids: Sequence[int]) -> None:
        self._log.append([Message(str(i), None) for i in ids])

    def close(self) -> None:
        self._log.close()


def read_to_end(log: Log, timeout_s: float) -> list[Record]:
    """Every record of ``log`` up to its end offsets as of the call.

    Raises ``LogUnavailable`` when they cannot all be read within ``timeout_s``.
    """
    ends = log.end_offsets()
    reader = log.reader({})
    deadline = time.monotonic() + timeout_s
    records: list[Record] = []
    positions: dict[int, int] = {}
    try:
        while behind(positions, ends):
            if time.monotonic() > deadline:
                raise LogUnavailable(f"could not read up to {ends} in {timeout_s}s")
            batch = reader.poll(1000, 0.5)
            records += batch
            positions = next_positions(batch, positions)
    finally:
        reader.close()
    return records


def new_id() -> int:
    """A positive 63-bit id: milliseconds since 1970, then 20 random bits."""
    return (time.time_ns() // 1_000_000) << 20 | random.getrandbits(20)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def encode_dead_letter(entry: DeadLetter) -> bytes:
    """The record value of a dead letter: JSON, with ``raw`` in base64."""
    body = {
        "id": entry.id,
        "time": entry.time,
        "source": entry.source,
        "reason": entry.reason,
        "raw": base64.b64encode(entry.raw).decode(),
    }
    return json.dumps(body).encode()


def decode_dead_letter(value: bytes) -> DeadLetter:
    """The inverse of ``encode_dead_letter``."""
    body = json.loads(value)
    return DeadLetter(int(body["id"]), body["time"], body["source"], body["reason"], base64.b64decode(body["raw"]))
