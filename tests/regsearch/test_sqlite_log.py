from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


def test_concurrent_appends_share_transactions_and_each_returns_once_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = SqliteLog(tmp_path / "events.sqlite3")
    transactions: list[int] = []
    real = log._db.transaction

    @contextmanager
    def slow() -> Iterator[sqlite3.Connection]:  # a slow disk: appends queue up behind a commit
        with real() as conn:
            yield conn
            time.sleep(0.02)
        transactions.append(1)

    monkeypatch.setattr(log._db, "transaction", slow)
    answers: list[int] = []
    unseen: list[str] = []

    def append(worker: int) -> None:
        other = sqlite3.connect(log._db.path)  # what another process would see
        for n in range(10):
            value = f"{worker}-{n}".encode()
            answers.append(log.append([Message(f"w{worker}", value, dedupe_id=f"{worker}-{n}")]))
            if not other.execute("SELECT 1 FROM records WHERE value = ?", (value,)).fetchall():
                unseen.append(value.decode())
        other.close()

    threads = [threading.Thread(target=append, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [1] * 80 and unseen == []  # each returned only once committed
    assert sorted(r.value for r in log.read(0, 1000)) == sorted(f"{w}-{n}".encode() for w in range(8) for n in range(10))
    assert len(transactions) < 40  # 80 one by one
    assert log.append([Message("w0", b"again", dedupe_id="0-3")]) == 0  # still deduplicated


def test_a_failed_group_commit_fails_every_append_in_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = SqliteLog(tmp_path / "events.sqlite3")
    entered, release = threading.Event(), threading.Event()
    real = log._db.transaction
    calls = 0

    @contextmanager
    def failing_second() -> Iterator[sqlite3.Connection]:
        nonlocal calls
        calls += 1
        with real() as conn:
            yield conn
            if calls == 1:
                entered.set()
                release.wait(5)  # the others queue behind this commit, then share the next
            else:
                raise LogUnavailable("disk full")

    monkeypatch.setattr(log._db, "transaction", failing_second)
    errors: list[BaseException | None] = []

    def append(value: bytes) -> None:
        try:
            log.append([Message("k", value)])
            errors.append(None)
        except LogUnavailable as error:
            errors.append(error)

    first = threading.Thread(target=append, args=(b"first",))
    first.start()
    entered.wait(5)
    others = [threading.Thread(target=append, args=(f"v{n}".encode(),)) for n in range(4)]
    for thread in others:
        thread.start()
    time.sleep(0.2)  # all four queued
    release.set()
    for thread in [first, *others]:
        thread.join()
    assert errors.count(None) == 1 and sum(isinstance(e, LogUnavailable) for e in errors) == 4
    assert [r.value for r in log.read(0, 10)] == [b"first"]
