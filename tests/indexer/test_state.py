"""What every indexer state must do: the SQLite one, the log-backed one, the memory one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from indexer.documents import TagDocument
from indexer.state import IndexerState, LogState, MemoryState, StateUpdate
from regsearch.logs.memory import MemoryLog
from regsearch.logs.sqlite import SqliteLog
from regsearch.state import SqliteIndexerState

REG = "reg:5000"
StateFactory = Callable[[], IndexerState]


def tag(repo: str, name: str, digest: str = "sha256:a") -> TagDocument:
    return TagDocument(REG, repo, name, digest, "application/vnd.oci.image.manifest.v1+json")


@pytest.fixture(params=["sqlite", "log-sqlite", "log-memory", "memory"])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> StateFactory:
    """Calling the factory again reopens the same state, as a restart would."""
    if request.param == "sqlite":
        return lambda: SqliteIndexerState(tmp_path / "state.sqlite3")
    if request.param == "log-sqlite":
        return lambda: LogState(SqliteLog(tmp_path / "state-log.sqlite3", compacted=True))
    if request.param == "log-memory":
        log = MemoryLog(partitions=3)
        return lambda: LogState(log)
    state = MemoryState()
    return lambda: state


def test_tags_are_kept_per_repository(factory: StateFactory) -> None:
    state = factory()
    state.apply(StateUpdate(upserts=(tag("a", "1"), tag("a", "2"), tag("b", "1"))))
    state.apply(StateUpdate(deletes=((REG, "a", "1"),)))
    again = factory()
    assert set(again.tags(REG, "a")) == {"2"} and again.tags(REG, "a")["2"] == tag("a", "2")
    assert again.repositories(REG) == {"a", "b"}


def test_pulls_count_once_per_offset_mark(factory: StateFactory) -> None:
    state = factory()
    batch = StateUpdate(pulls={(REG, "a"): 3}, pulls_through={(REG, "a"): 10})
    state.apply(batch)
    state.apply(batch)  # a replay of the same batch
    state.apply(StateUpdate(pulls={(REG, "a"): 2}, pulls_through={(REG, "a"): 12}))
    again = factory()
    assert (again.pulls(REG, "a"), again.pulls_through(REG, "a")) == (5, 12)
    assert again.pulls(REG, "never") == 0


def test_pull_history_by_day_and_tag_counts_once_and_keeps_thirty_days(factory: StateFactory) -> None:
    state = factory()
    state.apply(StateUpdate(upserts=(tag("a", "1"), tag("a", "2"))))
    key = (REG, "a")
    batch = StateUpdate(pulls={key: 3}, pulls_through={key: 10}, pull_days={key: {"2026-10-01": 1, "2026-11-27": 2}},
                        tag_pulls={key: {"1": 2, "2": 1}})
    state.apply(batch)
    state.apply(batch)  # a replay counts nothing
    state.apply(StateUpdate(pulls={key: 1}, pulls_through={key: 11}, pull_days={key: {"2026-11-28": 1}},
                            tag_pulls={key: {"1": 1}}, keep_from="2026-10-30"))
    state.apply(StateUpdate(deletes=((REG, "a", "2"),)))
    again = factory()
    history = again.pull_history(REG, "a")
    assert dict(history.days) == {"2026-11-27": 2, "2026-11-28": 1}  # 2026-10-01 is past thirty days
    assert dict(history.tags) == {"1": 3}  # the deleted tag's count goes with it
    assert (history.within("2026-11-28", 7), again.pulls(REG, "a")) == (3, 4)
    assert dict(again.pull_history(REG, "never").days) == {}


def test_a_second_indexer_sees_the_first_ones_writes_after_refresh() -> None:
    log = MemoryLog(partitions=2)
    first, second = LogState(log), LogState(log)
    first.apply(StateUpdate(upserts=(tag("moved", "1", "sha256:b"),)))
    assert second.tags(REG, "moved") == {}
    second.refresh()
    assert second.tags(REG, "moved")["1"].digest == "sha256:b"
