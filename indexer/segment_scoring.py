"""Scoring a query in one segment straight from its term infos and decoded posting lists.

:class:`indexer.ranking.BlockScoring` scores a Whoosh matcher tree a list
at a time, but building that tree, per query and segment, had become most
of a query's time: an exact name at 1,000 repositories is eighteen terms
(each word in each field and ranking tier), and every term matcher reads
its first block, makes a BM25F scorer and steps its intersections to their
first common document before anything is scored (72 % of such a query's
time under cProfile; building matchers was 31 % of the serving process's
time under the soak benchmark). This compiles the query for the segment
instead, into nodes that read the posting lists kept decoded per segment
(:mod:`indexer.postings`) only when scored.

The scores stay Whoosh's to the last bit: each node adds its children's
scores as the Whoosh matcher it stands for does, and compound queries are
paired into the same trees (Whoosh's own ``make_weighted_tree``, with the
same size estimates, and the same tie-breaking: matchers compare equal when
of one class, so each node carries the class its matcher would have). Only
what plain text search builds is compiled: terms, prefixes
(``SegmentPrefix``), ``And``, ``TreeOr``, ``AndMaybe`` and
``ConstantScoreQuery``; for anything else (the query language's other
operators) :func:`compile_query` returns None and the caller builds
Whoosh's matchers.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from whoosh import matching
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching import ListMatcher, NullMatcherClass
from whoosh.query import And, AndMaybe, ConstantScoreQuery, Or, Query, Term
from whoosh.reading import SegmentReader
from whoosh.scoring import BM25F
from whoosh.util import make_weighted_tree
from whoosh.util.numeric import byte_to_length

from indexer.limits import check_deadline
from indexer.postings import decoded_postings
from indexer.prefixes import SegmentPrefix, segment_expansion
from indexer.terms import CachedTerms

Scores = dict[int, float]
Bm25 = Callable[[float, float], float]
Lengths = Callable[[str], bytes]

# Scorers kept per searcher (their IDF and average length are the whole index's): a query uses
# a few dozen; past this many the dictionary starts over.
MAX_SCORERS = 4096


class Scorers:
    """The BM25F scoring function of each term, for one searcher (its statistics), kept in
    ``kept`` (give the same dictionary for every query on the searcher)."""

    def __init__(self, searcher: Any, kept: dict[tuple[str, bytes], Bm25] | None = None) -> None:
        self._searcher = searcher
        self._kept = {} if kept is None else kept

    def bm25(self, fieldname: str, tbytes: bytes) -> Bm25:
        """``BM25FScorer._score`` of the term: its score from a posting's weight and field length."""
        key = (fieldname, tbytes)
        found = self._kept.get(key)
        if found is None:
            if len(self._kept) >= MAX_SCORERS:
                self._kept.clear()
            found = self._kept[key] = self._searcher.weighting.scorer(self._searcher, fieldname, tbytes)._score
        return found


class Node:
    """A compiled query in one segment: what it matches and scores, read only when asked.

    ``matcher_class`` is the class of the Whoosh matcher it stands for, which
    Whoosh's weighted trees compare on ties (see the module's docstring).
    ``size`` orders an intersection's sides (only speed depends on it).
    """

    matcher_class: type = NullMatcherClass
    size: float = 0.0

    def scores(self, within: Collection[int] | None) -> Scores:
        """Segment document number -> score of each match (of those ``within``, when given)."""
        return {}

    # A Whoosh matcher equals, and is "less than", any matcher of its own class.
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Node) and other.matcher_class is self.matcher_class

    def __lt__(self, other: object) -> bool:
        return isinstance(other, Node) and other.matcher_class is self.matcher_class

    __hash__ = None  # type: ignore[assignment]


NULL = Node()


class _Leaf(Node):
    """One term's postings in the segment, BM25F-scored (a field Whoosh cannot score: by weight)."""

    def __init__(self, segment: _Segment, fieldname: str, tbytes: bytes, info: Any) -> None:
        self._segment, self._fieldname, self._tbytes, self._info = segment, fieldname, tbytes, info
        self.size = float(info.doc_frequency())
        inner: type = ListMatcher if info.is_inlined() else W3LeafMatcher
        self.matcher_class = matching.FilterMatcher if segment.deleted else inner

    def postings(self, within: Collection[int] | None) -> tuple[Sequence[int], Sequence[float]]:
        info = self._info
        if info.is_inlined():
            ids, weights, _ = info.inlined_postings()
        else:
            ids, weights = self._segment.decoded(self._fieldname, self._tbytes, info)
        if within is not None:  # first: a few candidates are looked up, not the whole list passed
            ids, weights = among(ids, weights, within)
        deleted = self._segment.deleted
        if deleted:
            ids, weights = kept(ids, weights, lambda docnum: docnum not in deleted)
        return ids, weights

    def scores(self, within: Collection[int] | None) -> Scores:
        check_deadline()
        ids, weights = self.postings(within)
        if not self._segment.schema[self._fieldname].scorable:
            return dict(zip(ids, weights))  # Whoosh's WeightScorer: the weight is the score
        lengths = self._segment.lengths(self._fieldname)
        bm25 = self._segment.scorers.bm25(self._fieldname, self._tbytes)
        known: dict[tuple[float, int], float] = {}  # few distinct (weight, length) pairs: score each once
        pairs = list(zip(weights, map(lengths.__getitem__, ids)))
        for weight, length in set(pairs).difference(known):
            known[weight, length] = bm25(weight, byte_to_length(length))
        return dict(zip(ids, map(known.__getitem__, pairs)))


class _Intersection(Node):
    matcher_class = matching.IntersectionMatcher

    def __init__(self, a: Node, b: Node) -> None:
        self.a, self.b = a, b
        self.size = min(a.size, b.size)

    def scores(self, within: Collection[int] | None) -> Scores:
        # The narrow side first; the wide side only where it matched (IntersectionMatcher: a + b).
        narrow_first = self.a.size <= self.b.size
        first, second = (self.a, self.b) if narrow_first else (self.b, self.a)
        narrow = first.scores(within)
        wide = second.scores(narrow.keys()) if narrow else {}
        a, b = (narrow, wide) if narrow_first else (wide, narrow)
        return {docnum: a[docnum] + b[docnum] for docnum in a.keys() & b.keys()}


class _Union(Node):
    matcher_class = matching.UnionMatcher

    def __init__(self, a: Node, b: Node) -> None:
        self.a, self.b = a, b
        self.size = a.size + b.size

    def scores(self, within: Collection[int] | None) -> Scores:
        return union(self.a.scores(within), self.b.scores(within))


class _Maybe(Node):
    matcher_class = matching.AndMaybeMatcher

    def __init__(self, required: Node, optional: Node) -> None:
        self.required, self.optional = required, optional
        self.size = required.size

    def scores(self, within: Collection[int] | None) -> Scores:
        required = self.required.scores(within)
        return maybe(required, self.optional.scores(required.keys()) if required else {})


class _Boosted(Node):
    matcher_class = matching.WrappingMatcher

    def __init__(self, child: Node, boost: float) -> None:
        self.child, self.boost = child, boost
        self.size = child.size

    def scores(self, within: Collection[int] | None) -> Scores:
        return {docnum: score * self.boost for docnum, score in self.child.scores(within).items()}


class _Constant(Node):
    """ConstantScoreQuery outside a context that needs the current match: Whoosh lists the
    child's matches with one weight (a ListMatcher)."""

    matcher_class = ListMatcher

    def __init__(self, child: Node, score: float) -> None:
        self.child, self.score = child, float(score)
        self.size = child.size

    def scores(self, within: Collection[int] | None) -> Scores:
        return dict.fromkeys(self.child.scores(within), self.score)


class _Listed(Node):
    """Documents that each score the same, deleted ones left out when scored (a prefix's expansion
    as one list: a ListMatcher)."""

    matcher_class = ListMatcher

    def __init__(self, ids: Sequence[int], deleted: Collection[int], score: float) -> None:
        self.ids, self.deleted, self.score = ids, deleted, score
        self.size = float(len(ids))

    def scores(self, within: Collection[int] | None) -> Scores:
        ids: Iterable[int] = self.ids if within is None else (d for d in self.ids if d in within)
        deleted = self.deleted
        return dict.fromkeys((d for d in ids if d not in deleted) if deleted else ids, self.score)


class _Segment:
    """What compiling needs of one segment: its reader, deletions, field lengths, decoded lists."""

    def __init__(self, leaf_searcher: Any, segment_id: str, lengths: Lengths, scorers: Scorers) -> None:
        self.reader = leaf_searcher.reader()
        self.schema = self.reader.schema
        self.deleted = self.reader.deleted_docs_set if self.reader.has_deletions() else frozenset()
        self.doc_count = self.reader.doc_count()
        self.segment_id = segment_id
        self.lengths = lengths
        self.scorers = scorers

    def term_info(self, fieldname: str, tbytes: bytes) -> Any:
        """The term's info, None if the segment does not hold it (kept: indexer.terms)."""
        terms = self.reader._terms
        if isinstance(terms, CachedTerms):
            return terms.info(fieldname, tbytes)
        return terms.term_info(fieldname, tbytes) if (fieldname, tbytes) in terms else None

    def decoded(self, fieldname: str, tbytes: bytes, info: Any) -> tuple[Sequence[int], Sequence[float]]:
        offset, length = info.extent()
        terms = self.reader._terms
        found = decoded_postings(
            self.segment_id, terms._postfile, offset, length, self.schema[fieldname].format, (fieldname, tbytes)
        )
        return found.ids, found.weights


def compile_query(
    query: Query, leaf_searcher: Any, segment_id: str, lengths: Lengths, scorers: Scorers
) -> Node | None:
    """``query`` compiled for one segment (``leaf_searcher``'s), or None when it holds a query
    this does not compile, or the searcher does not weigh with BM25F."""
    if type(leaf_searcher.weighting) is not BM25F:
        return None
    try:
        node, _ = _compile(query, _Segment(leaf_searcher, segment_id, lengths, scorers))
    except _NotCompiled:
        return None
    return node


class _NotCompiled(Exception):
    pass


def _compile(query: Query, segment: _Segment) -> tuple[Node, int]:
    """The node of ``query``, and Whoosh's ``estimate_size`` of it (what its weighted trees pair by)."""
    kind = type(query)
    if kind is Term:
        return _term(query, segment)
    if kind is ConstantScoreQuery:
        child, estimate = _compile(query.child, segment)
        return (NULL if child.matcher_class is NullMatcherClass else _Constant(child, query.score)), estimate
    if kind is AndMaybe:
        (a, _), (b, b_estimate) = _compile(query.a, segment), _compile(query.b, segment)
        return _Maybe(a, b), b_estimate  # Whoosh estimates an AndMaybe by its optional part
    if kind is And:
        nodes = [_compile(sub, segment) for sub in query.subqueries]
        return _compound(query, nodes, _Intersection, -1), min(estimate for _, estimate in nodes)
    if kind is SegmentPrefix:
        return _prefix(query, segment)
    if _is_union_tree(query) and not query.scale:
        nodes = [_compile(sub, segment) for sub in query.subqueries]
        return _compound(query, nodes, _Union, 1), min(sum(estimate for _, estimate in nodes), segment.doc_count)
    raise _NotCompiled


def _is_union_tree(query: Query) -> bool:
    """An ``Or`` that Whoosh matches as its tree of unions whatever the segment (``TreeOr``)."""
    return isinstance(query, Or) and type(query)._matcher is Or._matcher and query.matcher_type == Or.DEFAULT_MATCHER


def _compound(query: Any, nodes: list[tuple[Node, int]], pair: type[Node], sign: int) -> Node:
    """``CompoundQuery.matcher``: one part is itself (its boost unapplied, as in Whoosh), more
    are paired into Whoosh's weighted tree (``And`` by ``0 - size``, ``Or`` by size), then boosted."""
    if not nodes:
        raise _NotCompiled  # Whoosh matches nothing, but fails to estimate its size
    if len(nodes) == 1:
        return nodes[0][0]
    tree: Node = make_weighted_tree(pair, [(0 - estimate if sign < 0 else estimate, node) for node, estimate in nodes])
    return _Boosted(tree, query.boost) if query.boost != 1.0 else tree


def _prefix(query: SegmentPrefix, segment: _Segment) -> tuple[Node, int]:
    """``SegmentPrefix.matcher`` in a segment: three or more expanded terms are one list scoring 1
    each; fewer are Whoosh's ``Prefix``: no term matches nothing, one is that term, two their union
    (scored, since Whoosh's searcher falls back to its own weighting when the prefix asks for none)."""
    reader = segment.reader
    if type(reader) is not SegmentReader or not query.text or not query.constantscore:
        raise _NotCompiled
    expansion = segment_expansion(reader, query.fieldname, query.text)
    terms = [Term(query.fieldname, word) for word in expansion.terms if word]
    if len(expansion.terms) >= 3:
        deleted = segment.deleted
        live = any(docnum not in deleted for docnum in expansion.ids)  # Whoosh: no live document, no list
        return (_Listed(expansion.ids, deleted, 1.0) if live else NULL), expansion.frequency
    if not terms:
        return NULL, expansion.frequency
    if len(terms) == 1:
        return _term(terms[0], segment)[0], expansion.frequency
    union = Or(terms, boost=query.boost)
    return _compound(union, [_term(term, segment) for term in terms], _Union, 1), expansion.frequency


def _term(query: Term, segment: _Segment) -> tuple[Node, int]:
    fieldname = query.fieldname
    if fieldname not in segment.schema:
        return NULL, 0
    try:
        tbytes = segment.schema[fieldname].to_bytes(query.text)
    except ValueError:
        return NULL, 0
    info = segment.term_info(fieldname, tbytes)
    if info is None:
        return NULL, 0
    node: Node = _Leaf(segment, fieldname, tbytes, info)
    return (_Boosted(node, query.boost) if query.boost != 1.0 else node), info.doc_frequency()


def kept(
    ids: Sequence[int], weights: Sequence[float], keep: Callable[[int], bool]
) -> tuple[list[int], list[float]]:
    """The postings whose document ``keep`` accepts."""
    kept = [(docnum, weight) for docnum, weight in zip(ids, weights) if keep(docnum)]
    return [docnum for docnum, _ in kept], [weight for _, weight in kept]


# A candidate is found in a decoded list by bisection (~1 us) where a pass over the list tests
# each posting (~0.05 us): bisect below one candidate per this many postings.
BISECT_RATIO = 20


def among(ids: Sequence[int], weights: Sequence[float], within: Collection[int]) -> tuple[list[int], list[float]]:
    """The postings of a decoded list whose document is ``within``: a few candidates are looked
    up by bisection (an intersection's wide side), many by a pass over the list (an architecture
    filter)."""
    if len(within) * BISECT_RATIO >= len(ids):
        return kept(ids, weights, within.__contains__)
    found: list[int] = []
    found_weights: list[float] = []
    for docnum in sorted(within):
        at = bisect_left(ids, docnum)
        if at < len(ids) and ids[at] == docnum:
            found.append(docnum)
            found_weights.append(weights[at])
    return found, found_weights


def union(a: Scores, b: Scores) -> Scores:
    """UnionMatcher's scores: a + b where both match."""
    merged = a | b
    for docnum in a.keys() & b.keys():
        merged[docnum] = a[docnum] + b[docnum]
    return merged


def maybe(a: Scores, b: Scores) -> Scores:
    """AndMaybeMatcher's scores: ``a``'s matches, plus b where it matches too."""
    combined = dict(a)
    for docnum in a.keys() & b.keys():
        combined[docnum] = a[docnum] + b[docnum]
    return combined
