from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from regsearch.logs import LogUnavailable, Message
from regsearch.logs.memory import MemoryLog
from regsearch.logs.sqlite import SqliteDeadLetters, SqliteLog
from tests.regsearch.log_contract import LogContract, LogFactory


class TestSqliteLog(LogContract):
    @pytest.fixture
    def log_factory(self, tmp_path: Path) -> LogFactory:
        return lambda: SqliteLog(tmp_path / "log.sqlite3")


class TestMemoryLog(LogContract):
    """Reopening the in-memory log is handing out the same object again."""

    @pytest.fixture
    def log_factory(self) -> LogFactory:
        log = MemoryLog(partitions=3)
        return lambda: log


def test_compaction_keeps_newest_and_tombstones(tmp_path: Path) -> None:
    log = SqliteLog(tmp_path / "docs.sqlite3", compacted=True)
    log.append([Message("x", b"v1"), Message("y", b"v1")])
    log.append([Message("x", None)])
    assert [(r.key, r.value) for r in log.read(0, 10)] == [("y", b"v1"), ("x", None)]


def test_prune_drops_only_consumed_old_records(tmp_path: Path) -> None:
    log = SqliteLog(tmp_path / "events.sqlite3")
    log.append([Message("a", b"1"), Message("a", b"2"), Message("a", b"3")])
    offsets = [r.offset for r in log.read(0, 10)]
    assert log.prune(offsets[2], older_than_s=0) == 2
    assert [r.value for r in log.read(0, 10)] == [b"3"]
    assert log.end_offsets() == {0: offsets[2] + 1}


def test_failed_append_is_unavailable_and_appends_nothing(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    log = SqliteLog(path)
    log.append([Message("a", b"1")])
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock past our timeout
    log._db._conn.execute("PRAGMA busy_timeout = 50")
    with pytest.raises(LogUnavailable):
        log.append([Message("a", b"2"), Message("a", b"3")])
    other.execute("ROLLBACK")
    assert [r.value for r in log.read(0, 10)] == [b"1"]


def append_forever(path: str, ready: multiprocessing.synchronize.Event) -> None:
    log = SqliteLog(Path(path))
    i = 0
    while True:
        log.append([Message("k", str(i).encode(), f"id-{i}"), Message("k", str(i + 1).encode(), f"id-{i + 1}")])
        i += 2
        if i == 200:
            ready.set()


def test_kill_9_never_leaves_half_a_batch(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    child = ctx.Process(target=append_forever, args=(str(path), ready))
    child.start()
    assert ready.wait(30)
    os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
    child.join()
    values = [int(r.value or b"") for r in SqliteLog(path).read(0, 10**9)]
    assert len(values) >= 200
    assert len(values) % 2 == 0, "a two-message append was cut in half"
    assert values == list(range(len(values)))


def test_dead_letters_roundtrip(tmp_path: Path) -> None:
    dead = SqliteDeadLetters(tmp_path / "dl.sqlite3")
    dead.add("webhook", "not JSON", b"{oops")
    dead.add("indexer", "bad manifest", b'{"id": "1"}')
    entries = dead.list()
    assert [(e.source, e.reason, e.raw) for e in entries] == [
        ("webhook", "not JSON", b"{oops"),
        ("indexer", "bad manifest", b'{"id": "1"}'),
    ]
    dead.remove([entries[0].id])
    assert [e.reason for e in SqliteDeadLetters(tmp_path / "dl.sqlite3").list()] == ["bad manifest"]
