"""Values read from one index segment's files, kept by segment id across searchers.

A Whoosh segment never changes once written: only which of its documents
are deleted does, and the values kept here leave that to their users. So
what is read from a segment stays right after a commit that left the
segment alone. With commits several times a second under load, a cache per
searcher would be lost before it paid; these are shared by every searcher
and thread of the process.

A searcher that no longer reads a segment (merged away) says so through
:func:`forget_segments`: under churn most segments live seconds, and kept
to the caches' bounds their values grew the search process's heap by a
quarter over the soak benchmark's ten minutes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from typing import Any, Generic, TypeVar

from cachetools import LRUCache

Value = TypeVar("Value")
Key = tuple[Any, ...]  # (segment id: str, then what was read from it)

_caches: list[SegmentCache] = []


class SegmentCache(Generic[Value]):
    """A bounded, thread-safe LRU map from ``(segment id, ...)`` keys to values read from that segment.

    ``max_size`` bounds the values' sizes added up (``size_of``, 1 each by
    default); the least recently used go first.
    """

    def __init__(self, max_size: int, size_of: Callable[[Value], int] | None = None) -> None:
        self.max_size = max_size
        self._size_of = size_of
        self._lock = threading.Lock()
        self._values = _ForgettableLRU(max_size, getsizeof=size_of)
        _caches.append(self)

    def get(self, key: Key, read: Callable[[], Value]) -> Value:
        """The value kept for ``key``, else ``read()``'s, kept unless larger than the whole cache."""
        with self._lock:
            found = self._values.get(key, _MISSING)
        if found is not _MISSING:
            return found
        value = read()
        if self._size_of is None or self._size_of(value) <= self.max_size:
            with self._lock:
                self._values[key] = value
        return value

    def forget(self, segment_ids: Collection[str] | None = None) -> None:
        """Drop the values of the segments ``segment_ids`` (of every segment: None)."""
        with self._lock:
            if segment_ids is None:
                self._values.clear()
            else:
                self._values.forget(segment_ids)

    def items(self) -> list[tuple[Key, Value]]:
        """What is kept now, least recently used first (for tests and diagnostics)."""
        with self._lock:
            return list(self._values.items())


def forget_segments(segment_ids: Collection[str] | None = None) -> None:
    """Drop what every :class:`SegmentCache` read from the segments ``segment_ids`` (every segment: None)."""
    for cache in _caches:
        cache.forget(segment_ids)


_MISSING = object()


class _ForgettableLRU(LRUCache[Key, Any]):
    """An ``LRUCache`` that knows its keys per segment, so forgetting a segment does not walk them all
    (the term cache holds tens of thousands; a searcher is renewed several times a second)."""

    def __init__(self, maxsize: int, getsizeof: Callable[[Any], int] | None = None) -> None:
        super().__init__(maxsize, getsizeof)
        self._by_segment: dict[str, set[Key]] = {}

    def __setitem__(self, key: Key, value: Any) -> None:
        super().__setitem__(key, value)
        self._by_segment.setdefault(key[0], set()).add(key)

    def __delitem__(self, key: Key) -> None:  # also how the LRU evicts
        super().__delitem__(key)
        keys = self._by_segment.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_segment[key[0]]

    def clear(self) -> None:
        super().clear()
        self._by_segment.clear()

    def forget(self, segment_ids: Collection[str]) -> None:
        for segment_id in segment_ids:
            for key in list(self._by_segment.get(segment_id, ())):
                del self[key]
