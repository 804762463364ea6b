"""Ranking a query's matches the way Whoosh would, for a fraction of its per-document cost.

Whoosh scores one document per call through the whole matcher tree, a few
microseconds each, and its top-N collector drops matches that cannot reach
the page from the count it reports. :func:`ranked_matches` counts every
match and returns the best N with exactly Whoosh's scores and order,
scoring each segment once: from its posting lists where the query compiles
(:mod:`indexer.segment_scoring`), else by walking Whoosh's matcher tree
with :class:`BlockScoring` (``bench/query_profile.txt`` has the profile
this answers).
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.matching import (
    AndMaybeMatcher,
    ArrayUnionMatcher,
    FilterMatcher,
    IntersectionMatcher,
    UnionMatcher,
    WrappingMatcher,
)
from whoosh.matching import ListMatcher
from whoosh.query import Or, Query
from whoosh.scoring import BM25FScorer
from whoosh.util.numeric import byte_to_length

from indexer.docsets import DocumentSet
from indexer.limits import check_deadline
from indexer.postings import block, posting_bytes, remaining_ids, whole_postings
from indexer.segment_scoring import Scorers, among, compile_query, kept, maybe, union

# Popularity's share of the score: log(1 + pulls) times this. A BM25F score here is 5-30, so
# 1,000 pulls (log ~6.9) weigh like a few more matching words; the ranking tiers (1,000+) stay apart.
POPULARITY_WEIGHT = 1.0

Cache = Callable[[tuple[str, ...], Callable[[], Any]], Any]
"""``cache(key, compute)``: ``compute()``'s value for ``key``, computed once per searcher."""


def ranked_matches(
    searcher: Any, query: Query, allowed: DocumentSet | None, wanted: int, cached: Cache,
    bonus: Mapping[int, float] | None = None, scorers: Scorers | None = None,
) -> tuple[int, list[int]]:
    """How many documents match ``query`` (those in ``allowed`` when given), and the best ``wanted``.

    Best is Whoosh's order: highest score first, then lowest document number;
    the scores are Whoosh's own, to the last bit (computed from the posting
    lists by :mod:`indexer.segment_scoring`, or for the queries it does not
    compile from Whoosh's matchers by :class:`BlockScoring`),
    plus ``bonus`` (index document number -> score) for the matches it names.
    Every match is counted, where ``searcher.search(..., limit=n)`` would
    prune matches that cannot reach the top ``n`` from its count.
    """
    context = searcher.context()
    scorers = scorers or Scorers(searcher)
    total, best = 0, []
    for leaf, offset in searcher.leaf_searchers():
        check_deadline()
        within = None if allowed is None else allowed.segment(offset, leaf.reader().doc_count_all())
        segment = leaf.reader().segment()
        segment_id = None if segment is None else str(segment.segment_id())
        lengths = _lengths_of(cached, leaf)
        compiled = None if segment_id is None else compile_query(query, leaf, segment_id, lengths, scorers)
        if compiled is not None:
            scores = compiled.scores(within)
        else:
            scores = BlockScoring(lengths, segment_id).scores(query.matcher(leaf, context), within)
        for docnum, extra in (bonus or {}).items():
            if docnum - offset in scores:
                scores[docnum - offset] += extra
        boosts = None if segment_id is None else cached(
            ("popularity", segment_id), lambda: popularity_boosts(leaf.reader())
        )
        if boosts is not None:
            for docnum in scores:
                scores[docnum] += boosts[docnum]
        total += len(scores)
        best += _best(scores, offset, wanted)
    best.sort()
    return total, [docnum for _, docnum in best[:wanted]]


def popularity_boosts(reader: Any) -> array[float] | None:
    """Each document's popularity boost in one segment, ``POPULARITY_WEIGHT * log(1 + pulls)``;
    None when nothing in it was pulled (the boost then costs nothing)."""
    if not reader.has_column("pulls"):
        return None
    pulls = list(reader.column_reader("pulls", translate=False))
    if not any(pulls):
        return None
    return array("d", (POPULARITY_WEIGHT * math.log1p(n) for n in pulls))


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


class TreeOr(Or):
    """``Or`` matched as Whoosh's tree of unions, never as its preloaded array.

    For three or more clauses in a segment under 5,000 documents Whoosh's
    ``Or`` preloads every match into an array (``ArrayUnionMatcher``): per
    query and segment it allocates and fills a 2,048-slot array in Python,
    ~40% of a query's time at 1,000 repositories and a quarter of the search
    process's under the soak benchmark. A tree of unions is what
    :class:`BlockScoring` reads a block at a time. Whoosh's own search of the
    same query builds the same tree, so the scores are still Whoosh's (the
    tests compare them). A class, not an instance's ``matcher_type``: Whoosh
    rebuilds compound queries (``normalize``) from their class.
    """

    matcher_type = Or.DEFAULT_MATCHER


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

    def __init__(self, lengths: Callable[[str], bytes], segment_id: str | None = None) -> None:
        self._lengths = lengths
        self._segment_id = segment_id  # where whole posting lists are kept decoded (None: never)

    def scores(self, matcher: Any, within: Collection[int] | None = None) -> dict[int, float]:
        """Segment document number -> score of every posting ``matcher`` has not passed yet
        (of those ``within``, when given: an intersection scores its wider side only where its
        narrower side matched, so "gosop slim" does not score every "slim")."""
        kind = type(matcher)
        if kind is UnionMatcher:
            return union(self.scores(matcher.a, within), self.scores(matcher.b, within))
        if kind is IntersectionMatcher:
            narrow_first = _size(matcher.a) <= _size(matcher.b)
            first, second = (matcher.a, matcher.b) if narrow_first else (matcher.b, matcher.a)
            narrow = self.scores(first, within)
            wide = self.scores(second, narrow.keys()) if narrow else {}
            a, b = (narrow, wide) if narrow_first else (wide, narrow)
            return {docnum: a[docnum] + b[docnum] for docnum in a.keys() & b.keys()}
        if kind is AndMaybeMatcher:
            required = self.scores(matcher.a, within)
            return maybe(required, self.scores(matcher.b, required.keys()) if required else {})
        if kind is WrappingMatcher or kind is FilterMatcher:
            return self._wrapped(matcher, within)
        if kind is W3LeafMatcher and type(matcher.scorer) is BM25FScorer:
            return self._postings(matcher, within)
        if kind is ArrayUnionMatcher:
            return _only(self._array_union(matcher), within)
        if kind is ListMatcher and matcher._scorer is None and matcher._all_weights:
            return _only(dict.fromkeys(matcher._ids[matcher._i :], float(matcher._all_weights)), within)
        return _only(_one_by_one(matcher), within)

    def _array_union(self, matcher: Any) -> dict[int, float]:
        """Whoosh's many-clause union (a prefix's expansions in a segment under 5,000 documents):
        the part it already read into its array, then the rest of each clause in clause order,
        added as ``a[i] += score * boost`` (or set to 1 when unscored, as a constant-score prefix is)."""
        array, offset = matcher._a, matcher._offset
        first = range(matcher._docnum - offset, matcher._limit - offset)
        scores = {offset + i: array[i] for i in first if array[i] > 0}
        boost = matcher._boost
        for clause in matcher._submatchers:
            if not matcher._scored:
                scores.update(dict.fromkeys(remaining_ids(clause), 1.0))
                continue
            for docnum, score in self.scores(clause).items():
                scores[docnum] = scores.get(docnum, 0.0) + score * boost
        return scores

    def _wrapped(self, matcher: Any, within: Collection[int] | None = None) -> dict[int, float]:
        child, boost = self.scores(matcher.child, within), matcher.boost
        if type(matcher) is FilterMatcher:
            ids, exclude = matcher._ids, matcher._exclude
            child = {docnum: score for docnum, score in child.items() if (docnum in ids) != exclude}
        return {docnum: score * boost for docnum, score in child.items()}

    def _postings(self, leaf: Any, within: Collection[int] | None = None) -> dict[int, float]:
        """The scores of ``leaf``'s postings (those ``within``, when given: dropped before scoring)."""
        lengths, bm25 = self._lengths(leaf.term()[0]), leaf.scorer._score
        known: dict[tuple[float, int], float] = {}  # few distinct (weight, length) pairs: score each once
        scores: dict[int, float] = {}
        for ids, weights in self._blocks(leaf, within):
            check_deadline()
            pairs = list(zip(weights, map(lengths.__getitem__, ids)))
            for weight, length in set(pairs).difference(known):
                known[weight, length] = bm25(weight, byte_to_length(length))
            scores.update(zip(ids, map(known.__getitem__, pairs)))
        return scores

    def _blocks(
        self, leaf: Any, within: Collection[int] | None = None
    ) -> Iterator[tuple[Sequence[int], Sequence[float]]]:
        """``leaf``'s postings left (those ``within``, when given), as (document numbers, weights): the
        whole list decoded once per segment (:func:`indexer.postings.whole_postings`) when the segment
        is known, else block by block."""
        if self._segment_id is not None:
            ids, weights = whole_postings(self._segment_id, leaf)
            yield (ids, weights) if within is None else among(ids, weights, within)
            return
        while leaf.is_active():
            ids, weights = block(leaf)
            yield (ids, weights) if within is None else kept(ids, weights, within.__contains__)
            leaf._next_block()


def _only(scores: dict[int, float], within: Collection[int] | None) -> dict[int, float]:
    return scores if within is None else {docnum: score for docnum, score in scores.items() if docnum in within}


def _size(matcher: Any) -> float:
    """A rough size of what ``matcher`` can match (posting bytes): which side of an
    intersection to score first. Only speed depends on it."""
    if not matcher.is_active():  # a term missing from this segment: nothing to score beside it
        return 0.0
    kind = type(matcher)
    if kind is W3LeafMatcher:
        return float(posting_bytes(matcher))
    if kind is ListMatcher:
        return 4.0 * (len(matcher._ids) - matcher._i)
    if kind is UnionMatcher:
        return _size(matcher.a) + _size(matcher.b)
    if kind is IntersectionMatcher:
        return min(_size(matcher.a), _size(matcher.b))
    if kind is AndMaybeMatcher:
        return _size(matcher.a)
    if kind is WrappingMatcher or kind is FilterMatcher:
        return _size(matcher.child)
    return math.inf


def _one_by_one(matcher: Any) -> dict[int, float]:
    scores: dict[int, float] = {}
    while matcher.is_active():
        if len(scores) % 256 == 0:
            check_deadline()
        scores[matcher.id()] = matcher.score()
        matcher.next()
    return scores
