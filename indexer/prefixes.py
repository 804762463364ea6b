"""Prefix queries, and what a prefix stands for in one index segment, read once and kept across searchers.

A prefix query walks the segment's term index from the prefix and reads the
postings of every term it finds: "l*" over 2,000 repositories is ~1,000
terms in the text field alone, and the same walk was made three more times
per query (the expansion limit, the size estimate that orders an ``And``,
the words to highlight). Those walks were 44% of the soak benchmark's query
set in process, whose prefix queries are what a search box sends as one
types.

A segment's expansion is read once and kept by segment id across searchers
(:mod:`indexer.segment_cache`); which of its documents were deleted since
is applied after (``SegmentPrefix.matcher``). The cache is bounded by the
number of terms and document numbers it holds (:data:`MAX_CACHED_ENTRIES`).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching import ListMatcher, NullMatcher
from whoosh.query import Prefix
from whoosh.reading import MultiReader, SegmentReader

from indexer.postings import remaining_ids
from indexer.segment_cache import SegmentCache

# Terms plus document numbers held, across every cached expansion: ~20 MiB at most.
MAX_CACHED_ENTRIES = 400_000


@dataclass(frozen=True)
class Expansion:
    """The terms of one field of one segment that start with a prefix, in order; their document
    frequencies added up (Whoosh's size estimate); every document holding one, deleted or not,
    in ascending order."""

    terms: tuple[bytes, ...]
    frequency: int
    ids: array

    def size(self) -> int:
        """Its weight in the cache."""
        return len(self.terms) + len(self.ids) + 1


_cache: SegmentCache[Expansion] = SegmentCache(MAX_CACHED_ENTRIES, size_of=Expansion.size)


class SegmentPrefix(Prefix):
    """``Prefix`` whose many-term expansion is read straight from the term index, each match scoring 1.

    Whoosh builds a term query and a matcher per expanded term, with a hash
    lookup each (~0.1 ms per term; "libn*" expands to ~150 terms per field
    and segment). In a segment of at most 5,000 documents it then preloads
    them into an unscored array union where every match scores 1; in a
    larger one it ORs them into a tree whose matches score the sum of their
    terms' weights, a Python step per posting per level (33 ms for "libn*"
    at 10,000 repositories), so the same index ranked differently once
    compaction made its segments larger. With three or more terms and no
    caller needing the current match, this returns the segment's cached
    expansion (:func:`segment_expansion`) as one list, each match scoring 1,
    in every segment; anywhere else it is Whoosh's ``Prefix``, over the
    cached terms. The tests compare both on every prefix of small segments.
    """

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        reader = searcher.reader()
        if not self.text or not self.constantscore or type(reader) is not SegmentReader:
            return super().matcher(searcher, context)
        needs_current = context.needs_current if context else True
        if needs_current:
            return super().matcher(searcher, context)
        expansion = segment_expansion(reader, self.fieldname, self.text)
        if len(expansion.terms) < 3:
            return super().matcher(searcher, context)
        if reader.has_deletions():
            deleted = reader.deleted_docs_set
            live = [docnum for docnum in expansion.ids if docnum not in deleted]
        else:
            live = expansion.ids.tolist()
        return ListMatcher(live, all_weights=1.0) if live else NullMatcher()

    def estimate_size(self, ixreader: Any) -> int:
        """Whoosh's estimate (the expanded terms' document frequencies added up), cached per segment;
        an ``And`` orders its clauses by it."""
        if type(ixreader) is not SegmentReader or not self.text:
            return int(super().estimate_size(ixreader))
        return segment_expansion(ixreader, self.fieldname, self.text).frequency

    def _btexts(self, ixreader: Any) -> Iterable[bytes]:
        """The terms the prefix stands for in ``ixreader``, in order: each segment's cached terms
        (merged for several), where Whoosh walks the term index again."""
        if not self.text:
            return super()._btexts(ixreader)
        if type(ixreader) is SegmentReader:
            return segment_expansion(ixreader, self.fieldname, self.text).terms
        if type(ixreader) is MultiReader and all(type(leaf) is SegmentReader for leaf, _ in ixreader.leaf_readers()):
            every: set[bytes] = set()
            for leaf, _ in ixreader.leaf_readers():
                every.update(segment_expansion(leaf, self.fieldname, self.text).terms)
            return sorted(every)
        return super()._btexts(ixreader)


def segment_expansion(reader: Any, fieldname: str, text: str) -> Expansion:
    """``text``'s expansion in ``fieldname`` of the segment ``reader`` (a Whoosh ``SegmentReader``) reads."""
    if fieldname not in reader.schema:
        return Expansion((), 0, array("I"))
    prefix = reader._text_to_bytes(fieldname, text)
    key = (str(reader.segment().segment_id()), fieldname, prefix)
    return _cache.get(key, lambda: _read(reader, fieldname, prefix))


def _read(reader: Any, fieldname: str, prefix: bytes) -> Expansion:
    """One walk of the term index from ``prefix``, reading each term's postings."""
    postfile, postings_format = reader._terms._postfile, reader.schema[fieldname].format
    terms, frequency, ids = [], 0, set()
    for (field, term), info in reader._terms.items_from(fieldname, prefix):
        if field != fieldname or not term.startswith(prefix):
            break
        terms.append(term)
        frequency += info.doc_frequency()
        if info.is_inlined():
            ids.update(info.inlined_postings()[0])
        else:
            offset, length = info.extent()
            ids.update(remaining_ids(W3LeafMatcher(postfile, offset, length, postings_format)))
    return Expansion(tuple(terms), frequency, array("I", sorted(ids)))
