"""The resources of one machine: SQLite logs, indexer state, index, registry client.

Everything lives in the data directory:

    events.sqlite3       event log (webhooks and reconciler append, indexer consumes)
    documents.sqlite3    document log, compacted (indexer appends, follower consumes)
    deadletters.sqlite3  poison input with its reason
    state.sqlite3        the indexer's memory (tag digests, pull counts)
    index/               the Whoosh index, written only by the follower
    webhook-token        the generated webhook token, when none was given
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
from indexer.worker import Worker
from regsearch.config import Settings
from regsearch.logs.sqlite import SqliteDeadLetters, SqliteLog
from regsearch.state import SqliteIndexerState

FETCH_THREADS = 8


class ServiceRunning(RuntimeError):
    """Another ``regsearch serve`` owns this data directory."""


def registry_client(settings: Settings) -> RegistryClient:
    """The client for the configured registry, with credentials when given."""
    credentials = None
    if settings.registry_username:
        credentials = Credentials(settings.registry_username, settings.registry_password or "")
    return RegistryClient(settings.registry_url, credentials=credentials, pool_size=FETCH_THREADS * 2)


@dataclass
class Embedded:
    """Opened resources of a data directory; ``close()`` releases them all."""

    settings: Settings
    events: SqliteLog
    documents: SqliteLog
    dead_letters: SqliteDeadLetters
    state: SqliteIndexerState
    client: RegistryClient
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(FETCH_THREADS))
    _index: SearchIndex | None = None

    @classmethod
    def open(cls, settings: Settings) -> Embedded:
        data = settings.data_dir
        data.mkdir(parents=True, exist_ok=True)
        return cls(
            settings=settings,
            events=SqliteLog(data / "events.sqlite3"),
            documents=SqliteLog(data / "documents.sqlite3", compacted=True),
            dead_letters=SqliteDeadLetters(data / "deadletters.sqlite3"),
            state=SqliteIndexerState(data / "state.sqlite3"),
            client=registry_client(settings),
        )

    @property
    def registry(self) -> str:
        """The registry's name in documents and events (``host:port``)."""
        return self.client.name

    def index(self) -> SearchIndex:
        """The search index, opened on first use."""
        if self._index is None:
            self._index = SearchIndex.open(self.settings.data_dir / "index")
        return self._index

    def consumer(self) -> IndexerConsumer:
        worker = Worker(self.client, self.state, self.registry, executor=self.executor)
        return IndexerConsumer(self.events, self.documents, self.dead_letters, self.state, worker)

    def follower(self) -> Follower:
        return Follower(self.documents, self.index())

    def reconciler(self) -> Reconciler:
        policy = ReconcilePolicy(interval_s=self.settings.reconcile_interval_s)
        return Reconciler(self.client, self.state, self.events, self.registry, policy=policy)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        if self._index is not None:
            self._index.close()
        for resource in (self.events, self.documents, self.dead_letters, self.state, self.client):
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
