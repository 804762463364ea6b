"""Ranking a query's matches the way Whoosh would, for a fraction of its per-document cost.

Whoosh scores one document per call through the whole matcher tree, a few
microseconds each, and its top-N collector drops matches that cannot reach
the page from the count it reports. :func:`ranked_matches` counts every
match and returns the best N with exactly Whoosh's scores and order,
walking each segment's matcher tree once with :class:`BlockScoring`
(``bench/query_profile.txt`` has the profile this answers).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import Any

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.matching import AndMaybeMatcher, FilterMatcher, IntersectionMatcher, UnionMatcher, WrappingMatcher
from whoosh.query import Query
from whoosh.scoring import BM25FScorer
from whoosh.util.numeric import byte_to_length

Cache = Callable[[tuple[str | None, ...], Callable[[], Any]], Any]
"""``cache(key, compute)``: ``compute()``'s value for ``key``, computed once per searcher."""


def ranked_matches(searcher: Any, query: Query, allowed: Any, wanted: int, cached: Cache) -> tuple[int, list[int]]:
    """How many documents match ``query`` (those in ``allowed`` when given), and the best ``wanted``.

    Best is Whoosh's order: highest score first, then lowest document number;
    the scores are Whoosh's own, to the last bit (see :class:`BlockScoring`).
    Every match is counted, where ``searcher.search(..., limit=n)`` would
    prune matches that cannot reach the top ``n`` from its count.
    """
    context = searcher.context()
    total, best = 0, []
    for leaf, offset in searcher.leaf_searchers():
        scores = BlockScoring(_lengths_of(cached, leaf)).scores(query.matcher(leaf, context))
        if allowed is not None:
            scores = {docnum: score for docnum, score in scores.items() if offset + docnum in allowed}
        total += len(scores)
        best += _best(scores, offset, wanted)
    best.sort()
    return total, [docnum for _, docnum in best[:wanted]]


def _best(scores: dict[int, float], offset: int, wanted: int) -> list[tuple[float, int]]:
    """The ``wanted`` best of one segment's ``scores`` and any tied with the last, as ``(-score, docnum)``."""
    if len(scores) > wanted:
        floor = heapq.nlargest(wanted, scores.values())[-1]
        return [(-score, offset + docnum) for docnum, score in scores.items() if score >= floor]
    return [(-score, offset + docnum) for docnum, score in scores.items()]


def _lengths_of(cached: Cache, leaf: Any) -> Callable[[str], bytes]:
    """The field lengths of ``leaf``'s segment, one byte per document (Whoosh's encoding), read once per searcher."""
    reader = leaf.reader()
    return lambda name: cached(
        ("lengths", str(reader.segment().segment_id()), name), lambda: _length_bytes(reader, name)
    )


def _length_bytes(reader: Any, name: str) -> bytes:
    # Whoosh reads a length per call (~1 us); this is its lengths column in one read.
    count = reader.doc_count_all()
    column = reader._perdoc._cached_reader(f"_{name}_len", LENGTHS_COLUMN)
    if column is None:
        return bytes(count)
    raw = column._dbfile.get(column._basepos, column._count * column._fixedlen)
    return bytes(raw) + bytes(count - len(raw))


class BlockScoring:
    """Every posting left in a Whoosh matcher tree, with the score Whoosh would give it.

    Whoosh scores one document per call through the whole tree, a few
    microseconds each: the slowest part of a query matching hundreds of
    documents. This walks the tree once instead: leaf postings are read a
    block at a time and BM25F-scored with the leaf's own scorer, and each
    node combines its children's scores with the node's own arithmetic
    (``a + b`` for a union, an intersection and a present "maybe" part,
    ``score * boost`` for a wrapper), so each sum is the same float Whoosh
    computes. Nodes of other kinds are read through their own ``score()``.
    Reads internals of whoosh-reloaded 2.7.5 (pinned): the tests compare it
    with Whoosh's own scoring.
    """

    def __init__(self, lengths: Callable[[str], bytes]) -> None:
        self._lengths = lengths

    def scores(self, matcher: Any) -> dict[int, float]:
        """Segment document number -> score of every posting ``matcher`` has not passed yet."""
        kind = type(matcher)
        if kind is UnionMatcher:
            return _union(self.scores(matcher.a), self.scores(matcher.b))
        if kind is IntersectionMatcher:
            a, b = self.scores(matcher.a), self.scores(matcher.b)
            return {docnum: a[docnum] + b[docnum] for docnum in a.keys() & b.keys()}
        if kind is AndMaybeMatcher:
            return _maybe(self.scores(matcher.a), self.scores(matcher.b))
        if kind is WrappingMatcher or kind is FilterMatcher:
            return self._wrapped(matcher)
        if kind is W3LeafMatcher and type(matcher.scorer) is BM25FScorer:
            return self._postings(matcher)
        return _one_by_one(matcher)

    def _wrapped(self, matcher: Any) -> dict[int, float]:
        child, boost = self.scores(matcher.child), matcher.boost
        if type(matcher) is FilterMatcher:
            ids, exclude = matcher._ids, matcher._exclude
            child = {docnum: score for docnum, score in child.items() if (docnum in ids) != exclude}
        return {docnum: score * boost for docnum, score in child.items()}

    def _postings(self, leaf: Any) -> dict[int, float]:
        lengths, bm25 = self._lengths(leaf.term()[0]), leaf.scorer._score
        known: dict[tuple[float, int], float] = {}  # few distinct (weight, length) pairs: score each once
        scores: dict[int, float] = {}
        while leaf.is_active():
            ids, weights = _block(leaf)
            pairs = list(zip(weights, map(lengths.__getitem__, ids)))
            for weight, length in set(pairs).difference(known):
                known[weight, length] = bm25(weight, byte_to_length(length))
            scores.update(zip(ids, map(known.__getitem__, pairs)))
            leaf._next_block()
        return scores


def _block(leaf: Any) -> tuple[Sequence[int], Sequence[float]]:
    """The document numbers and weights of the postings ``leaf`` has left in its current block."""
    if leaf._ids is None:
        if leaf._data is None:
            leaf._read_data()
        ids = leaf._data[0]
        # Whoosh decodes the deltas with a generator, a Python step per posting.
        leaf._ids = ids if leaf._byteids else tuple(accumulate(ids))
    if leaf._weights is None:
        leaf._read_weights()
    start = leaf._i
    return leaf._ids[start:], leaf._weights[start:]


def _union(a: dict[int, float], b: dict[int, float]) -> dict[int, float]:
    merged = a | b
    for docnum in a.keys() & b.keys():
        merged[docnum] = a[docnum] + b[docnum]
    return merged


def _maybe(a: dict[int, float], b: dict[int, float]) -> dict[int, float]:
    combined = dict(a)
    for docnum in a.keys() & b.keys():
        combined[docnum] = a[docnum] + b[docnum]
    return combined


def _one_by_one(matcher: Any) -> dict[int, float]:
    scores = {}
    while matcher.is_active():
        scores[matcher.id()] = matcher.score()
        matcher.next()
    return scores
