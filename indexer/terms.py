"""Term lookups in one index segment, kept across searchers.

Whoosh finds a term in a segment's on-disk hash table: an md5 of the key
and a probe, ~13 µs in Python. A repository query looks each of its words
up in every field, tier and segment several times over (is it there, its
statistics for scoring, its size to order an ``And``, its postings), ~85
lookups for an exact name at 1,000 repositories, which put our p99 behind
SQL ``LIKE``'s there. The answers depend on the segment alone (its term
statistics count deleted documents too), so they are kept by segment id
(:mod:`indexer.segment_cache`), absent terms as well: a name query asks
most fields for words they do not hold.
"""

from __future__ import annotations

from typing import Any

from whoosh.codec.whoosh3 import W3TermsReader
from whoosh.reading import SegmentReader, TermInfo, TermNotFound

from indexer.segment_cache import SegmentCache

# Term infos kept, present or absent: ~720 bytes each with their keys and inlined postings, ~14 MiB at most.
MAX_CACHED_TERMS = 20_000


_cache: SegmentCache[TermInfo | None] = SegmentCache(MAX_CACHED_TERMS)


class CachedTerms:
    """A segment's term reader (Whoosh's ``W3TermsReader``) whose lookups of single terms are kept.

    Walks over terms (cursors, ``items_from``) go to the reader itself.
    """

    def __init__(self, terms: W3TermsReader, segment_id: str) -> None:
        self._terms = terms
        self._segment_id = segment_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._terms, name)

    def info(self, fieldname: str, tbytes: bytes) -> TermInfo | None:
        """The term's statistics and where its postings are; None if the segment does not hold it."""
        return _cache.get((self._segment_id, fieldname, tbytes), lambda: self._read(fieldname, tbytes))

    def _read(self, fieldname: str, tbytes: bytes) -> TermInfo | None:
        try:
            return self._terms.term_info(fieldname, tbytes)
        except TermNotFound:
            return None

    def __contains__(self, term: tuple[str, bytes]) -> bool:
        return self.info(*term) is not None

    def term_info(self, fieldname: str, tbytes: bytes) -> TermInfo:
        found = self.info(fieldname, tbytes)
        if found is None:
            raise TermNotFound(f"No term {fieldname}:{tbytes!r}")
        return found

    def frequency(self, fieldname: str, tbytes: bytes) -> float:
        found = self.info(fieldname, tbytes)
        return 0 if found is None else found.weight()  # 0: what the segment reader makes of a missing term

    def doc_frequency(self, fieldname: str, tbytes: bytes) -> int:
        found = self.info(fieldname, tbytes)
        return 0 if found is None else found.doc_frequency()

    def matcher(self, fieldname: str, tbytes: bytes, format_: Any, scorer: Any = None) -> Any:
        info = self.term_info(fieldname, tbytes)
        terms = self._terms
        return terms._codec.postings_reader(terms._postfile, info, format_, term=(fieldname, tbytes), scorer=scorer)


def cache_term_lookups(searcher: Any) -> None:
    """Make every segment ``searcher`` reads keep its term lookups (:class:`CachedTerms`)."""
    for leaf, _ in searcher.reader().leaf_readers():
        if type(leaf) is SegmentReader and type(leaf._terms) is W3TermsReader and leaf.segment() is not None:
            leaf._terms = CachedTerms(leaf._terms, str(leaf.segment().segment_id()))
