"""What every log backend must do; subclass with a ``log_factory`` fixture.

The Kafka backend will run the same suite (STYLE.md, "one contract suite").
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from regsearch.logs import Log, Message

LogFactory = Callable[..., Log]


class LogContract:
    """Tests shared by every ``Log`` implementation."""

    @pytest.fixture
    def log_factory(self) -> LogFactory:
        raise NotImplementedError

    def test_append_then_read_in_order(self, log_factory: LogFactory) -> None:
        log = log_factory()
        start = log.end_offset()
        assert log.append([Message("a", b"1"), Message("b", b"2"), Message("a", b"3")]) == 3
        records = log.read(start, 10)
        assert [(r.key, r.value) for r in records] == [("a", b"1"), ("b", b"2"), ("a", b"3")]
        assert [r.offset for r in records] == sorted(r.offset for r in records)
        assert log.end_offset() == records[-1].offset + 1

    def test_read_from_offset_and_limit(self, log_factory: LogFactory) -> None:
        log = log_factory()
        log.append([Message(f"k{i}", str(i).encode()) for i in range(10)])
        first = log.read(0, 3)
        assert [r.value for r in first] == [b"0", b"1", b"2"]
        rest = log.read(first[-1].offset + 1, 100)
        assert [r.value for r in rest] == [str(i).encode() for i in range(3, 10)]

    def test_dedupe_id_makes_append_idempotent(self, log_factory: LogFactory) -> None:
        log = log_factory()
        assert log.append([Message("a", b"1", "id-1"), Message("a", b"2", "id-2")]) == 2
        assert log.append([Message("a", b"1", "id-1"), Message("a", b"3", "id-3")]) == 1
        assert [r.value for r in log.read(0, 10)] == [b"1", b"2", b"3"]

    def test_committed_offsets_per_group(self, log_factory: LogFactory) -> None:
        log = log_factory()
        assert log.committed("indexer") == 0
        log.commit("indexer", 5)
        log.commit("other", 2)
        assert (log.committed("indexer"), log.committed("other")) == (5, 2)

    def test_survives_reopen(self, log_factory: LogFactory) -> None:
        log = log_factory()
        log.append([Message("a", b"1", "x")])
        log.commit("g", 7)
        log.close()
        again = log_factory()
        assert [r.value for r in again.read(0, 10)] == [b"1"]
        assert again.committed("g") == 7
        assert again.append([Message("a", b"1", "x")]) == 0

    def test_tombstones_are_records(self, log_factory: LogFactory) -> None:
        log = log_factory()
        log.append([Message("doc", None)])
        assert log.read(0, 1)[0].value is None
