"""Reading a Kafka topic: as a member of a consumer group, or alone from chosen offsets.

A group member never commits by itself (``enable_auto_commit=False``): the
caller commits positions after its output is durable, so a member that dies
leaves its uncommitted records to whoever gets its partitions next.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError

from regsearch.logs.abstract import Consumer, LogUnavailable, Positions, Record
from regsearch.logs.kafka_settings import KafkaSettings, unavailable

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_MS = 1000
MAX_POLL_INTERVAL_MS = 600_000  # a batch may wait on slow registries; being evicted mid-batch only costs a replay


def topic_partitions(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    """Every partition of ``topic``; ``LogUnavailable`` when the topic is unknown."""
    with unavailable(topic):
        numbers = consumer.partitions_for_topic(topic)
    if not numbers:
        raise LogUnavailable(f"Kafka topic {topic} does not exist (ensure_topics creates it)")
    return [TopicPartition(topic, n) for n in sorted(numbers)]


def plain_consumer(settings: KafkaSettings, **options: Any) -> KafkaConsumer:
    """A consumer with our client options and no automatic commits."""
    with unavailable("Kafka consumer"):
        return KafkaConsumer(
            **settings.client_options(),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            allow_auto_create_topics=False,
            **options,
        )


def to_records(batches: Mapping[TopicPartition, Iterable[ConsumerRecord]]) -> list[Record]:
    """kafka-python's records, in order within each partition, as ours."""
    return [
        Record(tp.partition, r.offset, (r.key or b"").decode(), r.value)
        for tp, records in sorted(batches.items(), key=lambda item: item[0].partition)
        for r in records
    ]


class KafkaPoller(Consumer):
    """Polling shared by the group member and the reader."""

    def __init__(self, consumer: KafkaConsumer, topic: str) -> None:
        self._consumer = consumer
        self.topic = topic

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        with unavailable(self.topic):
            batches = self._consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        return to_records(batches)

    def close(self) -> None:
        with unavailable(self.topic):
            self._consumer.close(autocommit=False)


class Rebalances(ConsumerRebalanceListener):
    """Says in the log which partitions come and go.

    It runs on the client's IO loop (kafka-python 3.x), so it only logs:
    work is committed after every batch, nothing is left to save here.
    """

    def __init__(self, group: str) -> None:
        self.group = group

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        log.info("group %s: partitions revoked: %s", self.group, _names(revoked))

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        log.info("group %s: partitions assigned: %s", self.group, _names(assigned))


def _names(partitions: Iterable[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "none"


class KafkaGroupConsumer(KafkaPoller):
    """One member of a consumer group on one topic; the group divides the partitions.

    It starts at the group's committed offsets (the beginning where none).
    """

    def __init__(self, settings: KafkaSettings, topic: str, group: str) -> None:
        consumer = plain_consumer(
            settings,
            group_id=settings.group(group),
            session_timeout_ms=int(settings.session_timeout_s * 1000),
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
            max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
        )
        super().__init__(consumer, topic)
        self.group = group
        self._timeout_ms = int(settings.connect_timeout_s * 1000)
        with unavailable(topic):
            consumer.subscribe([topic], listener=Rebalances(group))
        _await_partitions(consumer, topic, settings.connect_timeout_s)

    def partitions(self) -> set[int]:
        """The partitions the group gave this member at its last poll."""
        return {tp.partition for tp in self._consumer.assignment()}

    def commit(self, positions: Positions) -> None:
        """Commit for the partitions this member still owns.

        A partition revoked meanwhile is skipped, and a commit refused
        because the group rebalanced is dropped with a warning: the new owner
        reads those records again, which is harmless (at-least-once).
        """
        owned = self._consumer.assignment()
        offsets = {
            tp: OffsetAndMetadata(offset, "", -1)
            for partition, offset in positions.items()
            if (tp := TopicPartition(self.topic, partition)) in owned
        }
        if not offsets:
            return
        try:
            with unavailable(self.topic):
                self._consumer.commit(offsets, timeout_ms=self._timeout_ms)
        except LogUnavailable as exc:
            if not isinstance(exc.__cause__, CommitFailedError):
                raise
            log.warning("group %s: commit dropped after a rebalance: %s", self.group, exc)


def _await_partitions(consumer: KafkaConsumer, topic: str, timeout_s: float) -> None:
    """Wait until the consumer's own metadata knows ``topic``'s partitions.

    The group is joined at the first poll; a member elected leader before it
    knows them hands out none until its next metadata refresh (minutes).
    ``partitions_for_topic`` would fetch every topic instead, and the change
    of metadata right after the first assignment makes the leader rejoin, a
    path where kafka-python 3.0.12 sometimes stopped heartbeating.
    """
    cluster = consumer._cluster  # the cache the assignor reads; no public accessor
    deadline = time.monotonic() + timeout_s
    while not cluster.partitions_for_topic(topic):
        if time.monotonic() > deadline:
            raise LogUnavailable(f"no partitions of Kafka topic {topic} (ensure_topics creates it)")
        cluster.request_update()
        time.sleep(0.05)


class KafkaReader(KafkaPoller):
    """Every partition of a topic from given offsets, outside any group."""

    def __init__(self, settings: KafkaSettings, topic: str, start: Positions) -> None:
        consumer = plain_consumer(settings, group_id=None)
        super().__init__(consumer, topic)
        partitions = topic_partitions(consumer, topic)
        with unavailable(topic):
            consumer.assign(partitions)
            for tp in partitions:
                if tp.partition in start:
                    consumer.seek(tp, start[tp.partition])
                else:
                    consumer.seek_to_beginning(tp)

    def commit(self, positions: Positions) -> None:
        raise TypeError("a reader has no group to commit for")
