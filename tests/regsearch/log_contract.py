"""What every log backend must do; subclass with a ``log_factory`` fixture.

The SQLite, memory and Kafka backends run the same suite (STYLE.md, "one
contract suite"). A factory called twice opens the same log again, as a
restarted process would.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from regsearch.logs import Consumer, Log, Message, Record

LogFactory = Callable[[], Log]
TIMEOUT = 10.0


def drain(consumer: Consumer, expected: int) -> list[Record]:
    """Poll until ``expected`` records came (or the timeout)."""
    records: list[Record] = []
    for _ in range(50):
        records += consumer.poll(expected - len(records), TIMEOUT / 50)
        if len(records) >= expected:
            break
    return records


def values(records: list[Record]) -> list[bytes | None]:
    return [r.value for r in records]


class LogContract:
    """Tests shared by every ``Log`` implementation."""

    @pytest.fixture
    def log_factory(self) -> LogFactory:
        raise NotImplementedError

    def test_one_key_is_read_in_append_order(self, log_factory: LogFactory) -> None:
        log = log_factory()
        assert log.append([Message("a", b"1"), Message("a", b"2"), Message("a", b"3")]) == 3
        records = drain(log.reader({}), 3)
        assert values(records) == [b"1", b"2", b"3"]
        assert len({r.partition for r in records}) == 1
        assert [r.offset for r in records] == sorted(r.offset for r in records)

    def test_reader_starts_where_told(self, log_factory: LogFactory) -> None:
        log = log_factory()
        log.append([Message("k", str(i).encode()) for i in range(10)])
        first = drain(log.reader({}), 4)
        start = {first[-1].partition: first[-1].offset + 1}
        assert values(drain(log.reader(start), 6)) == [str(i).encode() for i in range(4, 10)]

    def test_end_offsets_follow_appends(self, log_factory: LogFactory) -> None:
        log = log_factory()
        before = sum(log.end_offsets().values())
        log.append([Message("a", b"1"), Message("b", b"2")])
        assert sum(log.end_offsets().values()) == before + 2

    def test_poll_waits_then_returns_nothing(self, log_factory: LogFactory) -> None:
        assert log_factory().reader({}).poll(10, 0.2) == []

    def test_dedupe_id_makes_append_idempotent(self, log_factory: LogFactory) -> None:
        log = log_factory()
        assert log.append([Message("a", b"1", "id-1"), Message("a", b"2", "id-2")]) == 2
        assert log.append([Message("a", b"1", "id-1"), Message("a", b"3", "id-3")]) == 1
        assert values(drain(log.reader({}), 3)) == [b"1", b"2", b"3"]

    def test_group_resumes_after_its_commit(self, log_factory: LogFactory) -> None:
        log = log_factory()
        log.append([Message("k", str(i).encode()) for i in range(5)])
        member = log.consumer("indexer")
        first = drain(member, 2)[:2]
        member.commit({first[-1].partition: first[-1].offset + 1})
        member.close()
        assert log.committed("indexer") == {first[-1].partition: first[-1].offset + 1}
        again = log_factory().consumer("indexer")
        assert values(drain(again, 3)) == [b"2", b"3", b"4"]
        again.close()

    def test_uncommitted_work_is_read_again(self, log_factory: LogFactory) -> None:
        log = log_factory()
        log.append([Message("k", b"1")])
        member = log.consumer("g")
        assert values(drain(member, 1)) == [b"1"]
        member.close()
        assert values(drain(log_factory().consumer("g"), 1)) == [b"1"]

    def test_groups_are_independent(self, log_factory: LogFactory) -> None:
        log = log_factory()
        log.append([Message("k", b"1")])
        one = log.consumer("one")
        [record] = drain(one, 1)
        one.commit({record.partition: record.offset + 1})
        assert values(drain(log.consumer("two"), 1)) == [b"1"]

    def test_tombstones_are_records(self, log_factory: LogFactory) -> None:
        log = log_factory()
        log.append([Message("doc", None)])
        [record] = drain(log.reader({}), 1)
        assert (record.key, record.value) == ("doc", None)

    def test_appends_survive_reopening(self, log_factory: LogFactory) -> None:
        log = log_factory()
        log.append([Message("a", b"1", "x")])
        log.close()
        again = log_factory()
        assert values(drain(again.reader({}), 1)) == [b"1"]
        assert again.append([Message("a", b"1", "x")]) == 0
