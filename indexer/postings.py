"""Reading a Whoosh posting list a block at a time, where Whoosh steps through it one posting per call.

Whoosh's leaf matcher (``W3LeafMatcher``) decodes a block of postings at
once and then hands them out one ``next()`` at a time, a few microseconds of
Python each. These read its current block whole (document numbers, weights)
so callers can work on lists: scoring (:mod:`indexer.ranking`) and prefix
expansion (:mod:`indexer.prefixes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate
from typing import Any

from whoosh.codec.whoosh3 import W3LeafMatcher


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
