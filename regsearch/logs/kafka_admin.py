"""Our topics and what the cluster keeps about them, through the admin client.

    events      delete policy, ``partitions``; keyed by ``registry/repository``
    docs        compacted, ``partitions``; keyed by document id, tombstone = delete
    state       compacted, ``partitions``; the indexer's memory, keyed by repository
    deadletter  compacted, one partition (ordered); keyed by id, tombstone = removed

A compacted topic keeps the newest record of each key for ever, which is
what makes the document log a complete source for rebuilding an index.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import RetriableError, TopicAlreadyExistsError

from regsearch.logs.kafka_settings import KafkaSettings, unavailable

COMPACTED = {"cleanup.policy": "compact"}
RETRY_PAUSE_S = 0.2

T = TypeVar("T")


def topic_specs(settings: KafkaSettings) -> dict[str, dict[str, object]]:
    """What ``ensure_topics`` creates, in kafka-python's ``create_topics`` form."""

    def spec(partitions: int, configs: dict[str, str]) -> dict[str, object]:
        return {
            "num_partitions": partitions,
            "replication_factor": settings.replication_factor,
            "configs": configs,
        }

    return {
        settings.topic("events"): spec(settings.partitions, {"cleanup.policy": "delete"}),
        settings.topic("docs"): spec(settings.partitions, COMPACTED),
        settings.topic("state"): spec(settings.partitions, COMPACTED),
        settings.topic("deadletter"): spec(1, COMPACTED),
    }


@contextmanager
def admin_client(settings: KafkaSettings) -> Iterator[KafkaAdminClient]:
    """An admin client for the length of the block; failures are ``LogUnavailable``."""
    with unavailable("Kafka admin"):
        admin = KafkaAdminClient(**settings.client_options())
        try:
            yield admin
        finally:
            admin.close()


def ensure_topics(settings: KafkaSettings) -> None:
    """Create whichever of our topics is missing; existing ones are left as they are,
    except that a topic meant to be compacted but not compacted is refused
    (``ValueError``): deleting old documents would lose them from every index."""
    specs = topic_specs(settings)
    with admin_client(settings) as admin:
        missing = {name: spec for name, spec in specs.items() if name not in set(admin.list_topics())}
        for name, spec in missing.items():
            _create(admin, name, spec)
        _refuse_uncompacted(admin, [n for n, s in specs.items() if s["configs"] == COMPACTED])


def _create(admin: KafkaAdminClient, name: str, spec: dict[str, object]) -> None:
    try:
        admin.create_topics({name: spec}, wait_for_metadata=True)
    except TopicAlreadyExistsError:
        pass  # another process won the race; same specs


def _refuse_uncompacted(admin: KafkaAdminClient, names: list[str]) -> None:
    for name in names:
        policy = topic_config(admin, name).get("cleanup.policy", "")
        if "compact" not in policy:
            raise ValueError(
                f"Kafka topic {name} has cleanup.policy={policy!r}; it must include 'compact' "
                f"(kafka-configs --alter --entity-type topics --entity-name {name} "
                "--add-config cleanup.policy=compact)"
            )


def topic_config(admin: KafkaAdminClient, topic: str) -> dict[str, str]:
    """The topic's effective configuration, defaults included."""
    resource = ConfigResource(ConfigResourceType.TOPIC, topic)
    described = admin.describe_configs([resource], config_filter="all")
    entries = described["topic"][topic]
    return {key: _config_value(entry) for key, entry in entries.items()}


def _config_value(entry: object) -> str:
    value = entry.get("value") if isinstance(entry, dict) else entry
    return "" if value is None else str(value)


def committed_offsets(settings: KafkaSettings, group: str, topic: str) -> dict[int, int]:
    """Per partition of ``topic``, the offset our ``group`` committed (none: absent)."""
    group_id = settings.group(group)
    with admin_client(settings) as admin:
        groups = retrying(lambda: admin.list_group_offsets({group_id: None}), settings.connect_timeout_s)
    offsets = groups.get(group_id, {})
    return {
        tp.partition: meta.offset
        for tp, meta in offsets.items()
        if isinstance(tp, TopicPartition) and tp.topic == topic and meta.offset >= 0
    }


def retrying(call: Callable[[], T], timeout_s: float) -> T:
    """``call()``, again while it fails with a retriable error and ``timeout_s`` lasts.

    The admin client does not retry by itself; the first group request to a
    new cluster, for one, meets a coordinator still being created.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except RetriableError:
            if time.monotonic() + RETRY_PAUSE_S > deadline:
                raise
            time.sleep(RETRY_PAUSE_S)
