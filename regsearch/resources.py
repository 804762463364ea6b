"""The resources of a process: logs, indexer state, index, registry client.

Without Kafka everything lives in the data directory:

    events.sqlite3       event log (webhooks and reconciler append, indexer consumes)
    documents.sqlite3    document log, compacted (indexer appends, follower consumes)
    deadletters.sqlite3  poison input with its reason
    state.sqlite3        the indexer's memory (tag digests, pull counts)
    index/               the Whoosh index, written only by the follower
    webhook-token        the generated webhook token, when none was given

With Kafka, the logs and the indexer state are topics, and the data
directory holds only the search replica's index (and the token).
"""

from __future__ import annotations

import fcntl
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from indexer.consumer import IndexerConsumer
from indexer.follower import Follower
from indexer.index import SearchIndex
from indexer.policies import ReconcilePolicy
from indexer.reconcile import Reconciler
from indexer.registry import Credentials, RegistryClient
from indexer.state import IndexerState, LogState
from indexer.worker import Worker
from regsearch.config import ConfigError, RegistrySettings, Settings
from regsearch.logs import DeadLetters, Log
from regsearch.logs.kafka import KafkaDeadLetters, KafkaLog, KafkaSettings, ensure_topics
from regsearch.logs.sqlite import SqliteDeadLetters, SqliteLog
from regsearch.state import SqliteIndexerState

FETCH_THREADS = 8


class ServiceRunning(RuntimeError):
    """Another ``regsearch serve`` owns this data directory."""


def registry_client(registry: RegistrySettings) -> RegistryClient:
    """The client for one configured registry, with credentials when given."""
    credentials = None
    if registry.username:
        credentials = Credentials(registry.username, registry.password or "")
    return RegistryClient(registry.url, credentials=credentials, pool_size=FETCH_THREADS * 2)


@dataclass
class Logs:
    """The three logs every role shares, and where the indexer keeps its state."""

    events: Log
    documents: Log
    dead_letters: DeadLetters
    state_log: Log | None = None  # None: the indexer state is a SQLite file

    def close(self) -> None:
        for log in (self.events, self.documents, self.dead_letters, self.state_log):
            if log is not None:
                log.close()


def sqlite_logs(data: Path) -> Logs:
    return Logs(
        events=SqliteLog(data / "events.sqlite3"),
        # derived from the registry, so rebuilt by a crawl after a power loss
        documents=SqliteLog(data / "documents.sqlite3", compacted=True, fsync=False),
        dead_letters=SqliteDeadLetters(data / "deadletters.sqlite3"),
    )


def kafka_logs(settings: KafkaSettings) -> Logs:
    try:
        ensure_topics(settings)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return Logs(
        events=KafkaLog(settings, "events"),
        documents=KafkaLog(settings, "docs"),
        dead_letters=KafkaDeadLetters(settings),
        state_log=KafkaLog(settings, "state"),
    )


@dataclass
class Resources:
    """Opened resources of a process; ``close()`` releases them all."""

    settings: Settings
    logs: Logs
    clients: tuple[RegistryClient, ...]  # one per registry, in the settings' order
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(FETCH_THREADS))
    _index: SearchIndex | None = None
    _state: IndexerState | None = None

    @classmethod
    def open(cls, settings: Settings) -> Resources:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        logs = kafka_logs(settings.kafka) if settings.kafka else sqlite_logs(settings.data_dir)
        return cls(settings=settings, logs=logs, clients=tuple(registry_client(r) for r in settings.registries))

    @property
    def events(self) -> Log:
        return self.logs.events

    @property
    def documents(self) -> Log:
        return self.logs.documents

    @property
    def dead_letters(self) -> DeadLetters:
        return self.logs.dead_letters

    def index(self) -> SearchIndex:
        """The search index, opened on first use."""
        if self._index is None:
            self._index = SearchIndex.open(self.settings.data_dir / "index")
        return self._index

    def state(self) -> IndexerState:
        """The indexer state, opened on first use."""
        if self._state is None:
            log = self.logs.state_log
            self._state = LogState(log) if log else SqliteIndexerState(self.settings.data_dir / "state.sqlite3")
        return self._state

    def consumer(self) -> IndexerConsumer:
        sources = {client.name: client for client in self.clients}
        worker = Worker(sources, self.state(), executor=self.executor)
        return IndexerConsumer(self.events, self.documents, self.dead_letters, self.state(), worker)

    def follower(self) -> Follower:
        return Follower(self.documents, self.index())

    def reconcilers(self) -> list[Reconciler]:
        """One reconciler per registry."""
        policy = ReconcilePolicy(interval_s=self.settings.reconcile_interval_s)
        return [Reconciler(client, self.state(), self.events, client.name, policy=policy) for client in self.clients]

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        for resource in (self._index, self._state, self.logs, *self.clients):
            if resource is not None:
                resource.close()


def lock_data_dir(data_dir: Path) -> IO[str]:
    """Take the data directory for this process; the lock goes when the process does.

    Raises ``ServiceRunning`` when another process holds it.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(data_dir / "serve.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise ServiceRunning(f"another regsearch process is using {data_dir}") from exc
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
