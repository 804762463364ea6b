"""Reading a Whoosh posting list a block at a time, where Whoosh steps through it one posting per call.

Whoosh's leaf matcher (``W3LeafMatcher``) decodes a block of postings at
once and then hands them out one ``next()`` at a time, a few microseconds of
Python each. These read its current block whole (document numbers, weights)
so callers can work on lists: scoring (:mod:`indexer.ranking`) and prefix
expansion (:mod:`indexer.prefixes`).

A segment's posting lists never change, so scoring reads a whole list once
per segment and keeps it decoded (:func:`whole_postings`): unpickling the
blocks was a fifth of a common word's query time at 1,000 repositories.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from whoosh.codec.whoosh3 import W3LeafMatcher

from indexer.segment_cache import SegmentCache

# Postings kept decoded, across every list: 12 bytes each (document number and weight), ~12 MiB at most.
MAX_CACHED_POSTINGS = 1_000_000


@dataclass(frozen=True)
class Postings:
    """One posting list decoded whole: document numbers ascending, their weights, and where its
    first block ends (a matcher still there has read nothing)."""

    ids: array
    weights: array
    first_block_end: int


_cache: SegmentCache[Postings] = SegmentCache(MAX_CACHED_POSTINGS, size_of=lambda kept: len(kept.ids) + 1)


def block(leaf: Any) -> tuple[Sequence[int], Sequence[float]]:
    """The document numbers and weights of the postings ``leaf`` has left in its current block."""
    ids = block_ids(leaf)
    if leaf._weights is None:
        leaf._read_weights()
    return ids, leaf._weights[leaf._i :]


def block_ids(leaf: Any) -> Sequence[int]:
    """The document numbers of the postings ``leaf`` has left in its current block."""
    if leaf._ids is None:
        if leaf._data is None:
            leaf._read_data()
        ids = leaf._data[0]
        # Whoosh decodes the deltas with a generator, a Python step per posting.
        leaf._ids = ids if leaf._byteids else tuple(accumulate(ids))
    return leaf._ids[leaf._i :]


def remaining_ids(matcher: Any) -> list[int]:
    """The document numbers ``matcher`` has left, a block at a time for a leaf."""
    if type(matcher) is not W3LeafMatcher:
        return list(matcher.all_ids()) if matcher.is_active() else []
    found: list[int] = []
    while matcher.is_active():
        found += block_ids(matcher)
        matcher._next_block()
    return found


def posting_bytes(leaf: Any) -> int:
    """The length of ``leaf``'s posting list in bytes (whoosh-reloaded keeps it as a 1-tuple)."""
    length = leaf._length
    return int(length[0] if isinstance(length, tuple) else length)


def whole_postings(segment_id: str, leaf: Any) -> tuple[Sequence[int], Sequence[float]]:
    """The document numbers and weights of every posting ``leaf`` (a ``W3LeafMatcher`` of the
    segment ``segment_id``) has left, then leaves it at its end.

    The whole list is decoded once and kept by its place in the segment's
    postings file (:mod:`indexer.segment_cache`); deleted documents are in
    it, as in Whoosh's blocks, for the caller to drop.
    """
    found = decoded_postings(segment_id, leaf._postfile, leaf._startoffset, leaf._length, leaf.format, leaf._term)
    if not leaf.is_active():
        start = len(found.ids)
    elif leaf._i == 0 and leaf._nextoffset == found.first_block_end:
        start = 0  # not yet moved: no need to decode its first block for its id
    else:
        start = bisect_left(found.ids, leaf.id())
    leaf._atend = True  # read to the end, as a block-by-block reader leaves it
    return found.ids[start:], found.weights[start:]


def decoded_postings(
    segment_id: str, postfile: Any, offset: int, length: Any, format_: Any, term: tuple[str, bytes]
) -> Postings:
    """The whole posting list at ``offset`` in the segment's postings file, decoded once and kept
    by that place (:mod:`indexer.segment_cache`)."""
    return _cache.get((segment_id, "postings", offset), lambda: _decode(postfile, offset, length, format_, term))


def _decode(postfile: Any, offset: int, length: Any, format_: Any, term: tuple[str, bytes]) -> Postings:
    """Every posting of the list, read by a matcher of its own from the first block."""
    reader = W3LeafMatcher(postfile, offset, length, format_, term=term)
    found = Postings(array("I"), array("d"), reader._nextoffset)
    while reader.is_active():
        ids, weights = block(reader)
        found.ids.fromlist(list(ids))  # blocks hold arrays of other kinds, or tuples
        found.weights.fromlist(list(weights))
        reader._next_block()
    return found
