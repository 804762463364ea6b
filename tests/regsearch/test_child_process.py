"""Work in a process of its own (here the follower): it indexes what the document log holds,
reports its metrics to the parent, stops when asked, and a crash is the caller's to restart.
The indexer's child is shown end to end (``tests/integration/test_end_to_end.py``)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from indexer import metrics
from indexer.documents import RepositoryDocument, document_to_json
from indexer.index import SearchIndex, SearchRequest
from regsearch.config import Settings
from regsearch.child_process import follow, run_in_child
from regsearch.logs import Message
from regsearch.logs.sqlite import SqliteLog
from tests.support.waiting import wait_until

TIMEOUT_S = 60.0


def append_repositories(data_dir: Path, names: list[str]) -> None:
    """Write repository documents to the data dir's document log, as the indexer does."""
    log = SqliteLog(data_dir / "documents.sqlite3", compacted=True, fsync=False)
    try:
        docs = [RepositoryDocument(registry="127.0.0.1:5000", name=name) for name in names]
        log.append([Message(doc.doc_id, document_to_json(doc)) for doc in docs])
    finally:
        log.close()


class Running:
    """The follower's ``run_in_child`` in a thread, with what it raised."""

    def __init__(self, settings: Settings) -> None:
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(settings,), daemon=True)
        self.thread.start()

    def _run(self, settings: Settings) -> None:
        try:
            run_in_child("follower", follow, settings, self.stop)
        except BaseException as error:  # noqa: BLE001 - the test inspects it
            self.error = error


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    data.mkdir()
    yield data


def commits() -> float:
    """Index commits observed in this (the parent) process's metrics."""
    return REGISTRY.get_sample_value("regsearch_index_commit_seconds_count") or 0.0


def follower_children() -> list[int]:
    """Live child processes of this test process named like the follower."""
    pids = []
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        pids += [int(pid) for pid in children.read_text().split()]
    return [pid for pid in pids if Path(f"/proc/{pid}/cmdline").exists()
            and b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes()
            and b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()]


def test_child_indexes_the_log_reports_metrics_and_stops_when_asked(data_dir: Path) -> None:
    index = SearchIndex.open(data_dir / "index")
    commits_before = commits()
    append_repositories(data_dir, ["team/api", "team/web"])
    running = Running(Settings(data_dir=data_dir))
    try:
        wait_until(lambda: index.search(SearchRequest()).total == 2, TIMEOUT_S, "the child indexed the log")
        append_repositories(data_dir, ["team/worker"])
        wait_until(lambda: index.search(SearchRequest()).total == 3, TIMEOUT_S, "the child indexed a later append")
        wait_until(lambda: commits() > commits_before, TIMEOUT_S, "the parent saw the child's commit times")
        wait_until(lambda: REGISTRY.get_sample_value("regsearch_index_settled", {"index": "search"}) == 1.0,
                   TIMEOUT_S, "the parent saw the child's index settle")
        assert [d.name for d in index.search(SearchRequest(q="worker")).documents] == ["team/worker"]
    finally:
        running.stop.set()
        running.thread.join(TIMEOUT_S)
        index.close()
    assert not running.thread.is_alive()
    assert running.error is None
    assert follower_children() == []


def test_a_killed_child_is_an_error_for_the_supervisor(data_dir: Path) -> None:
    SearchIndex.open(data_dir / "index").close()
    running = Running(Settings(data_dir=data_dir))
    wait_until(lambda: bool(follower_children()), TIMEOUT_S, "the follower process started")
    for pid in follower_children():
        os.kill(pid, signal.SIGKILL)
    running.thread.join(TIMEOUT_S)
    assert isinstance(running.error, RuntimeError)
    assert "the follower process exited with status -9" in str(running.error)


def test_sigterm_to_the_child_stops_it_cleanly(data_dir: Path) -> None:
    SearchIndex.open(data_dir / "index").close()
    metrics.record("index_settled", 0)
    running = Running(Settings(data_dir=data_dir))
    wait_until(lambda: REGISTRY.get_sample_value("regsearch_index_settled", {"index": "search"}) == 1.0,
               TIMEOUT_S, "the follower process is following (and idle)")
    for pid in follower_children():
        os.kill(pid, signal.SIGTERM)
    running.thread.join(TIMEOUT_S)
    assert isinstance(running.error, RuntimeError)
    assert "exited with status 0" in str(running.error)  # unasked, so the supervisor restarts it
