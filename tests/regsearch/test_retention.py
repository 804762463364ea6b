"""Pruning the embedded event log: only what the indexer group committed past, and only when old."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from regsearch import retention
from regsearch.logs import Message
from regsearch.logs.sqlite import SqliteLog
from regsearch.retention import prune_consumed, prune_periodically
from tests.support.waiting import wait_until

GROUP = "indexer"


def log_with_five_events(tmp_path: Path) -> SqliteLog:
    log = SqliteLog(tmp_path / "events.sqlite3")
    log.append([Message(f"registry/repo-{i}", str(i).encode()) for i in range(5)])
    return log


def test_only_committed_events_go(tmp_path: Path) -> None:
    log = log_with_five_events(tmp_path)
    log.commit_group(GROUP, {0: 3})
    assert prune_consumed(log, GROUP, older_than_s=0) == 3
    assert [r.value for r in log.read(0, 10)] == [b"3", b"4"]
    assert log.consumer(GROUP).poll(10, 0.1)[0].value == b"3"


def test_recent_events_and_a_group_that_never_committed_keep_everything(tmp_path: Path) -> None:
    log = log_with_five_events(tmp_path)
    assert prune_consumed(log, GROUP, older_than_s=0) == 0
    log.commit_group(GROUP, {0: 5})
    assert prune_consumed(log, GROUP) == 0  # a week's retention
    assert len(log.read(0, 10)) == 5


def test_the_loop_prunes_until_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retention, "EVENT_RETENTION_S", 0.0)
    log = log_with_five_events(tmp_path)
    log.commit_group(GROUP, {0: 2})
    stop = threading.Event()
    thread = threading.Thread(target=prune_periodically, args=(log, GROUP, stop, 0.05), daemon=True)
    thread.start()
    wait_until(lambda: len(log.read(0, 10)) == 3, 5.0, "the first pass pruned the two committed events")
    log.commit_group(GROUP, {0: 4})
    wait_until(lambda: len(log.read(0, 10)) == 1, 5.0, "a later pass pruned the next two")
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
