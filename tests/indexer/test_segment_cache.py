"""The cache of values read from index segments: bounded, and forgotten a segment at a time."""

from __future__ import annotations

from indexer.segment_cache import SegmentCache, forget_segments


def test_a_value_is_read_once_and_forgotten_with_its_segment_alone() -> None:
    cache: SegmentCache[str] = SegmentCache(10)
    reads: list[str] = []

    def read(value: str) -> str:
        reads.append(value)
        return value

    assert cache.get(("s1", "a"), lambda: read("one")) == "one"
    assert cache.get(("s1", "a"), lambda: read("again")) == "one"
    cache.get(("s2", "a"), lambda: read("two"))
    assert reads == ["one", "two"]

    forget_segments({"s1"})
    assert [key for key, _ in cache.items()] == [("s2", "a")]
    assert cache.get(("s1", "a"), lambda: read("three")) == "three"
    forget_segments()
    assert cache.items() == []


def test_the_least_recently_used_go_first_and_evicted_values_leave_the_segment_index() -> None:
    cache: SegmentCache[list[int]] = SegmentCache(5, size_of=len)
    cache.get(("s1", "a"), lambda: [1, 2])
    cache.get(("s2", "b"), lambda: [3, 4])
    cache.get(("s1", "a"), lambda: [0])  # used again: s2's is now the oldest
    cache.get(("s3", "c"), lambda: [5, 6])  # over 5: s2's goes
    assert [key for key, _ in cache.items()] == [("s1", "a"), ("s3", "c")]
    assert cache.get(("s4", "d"), lambda: list(range(9))) == list(range(9))  # larger than the cache: not kept
    assert [key for key, _ in cache.items()] == [("s1", "a"), ("s3", "c")]

    cache.forget({"s2"})  # already evicted: nothing to do, nothing fails
    cache.forget({"s1"})
    assert [key for key, _ in cache.items()] == [("s3", "c")]
