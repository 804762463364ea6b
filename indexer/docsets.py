"""A filter's documents, as searching tests them: by index document number, and per segment."""

from __future__ import annotations

from collections.abc import Iterable, Iterator


class DocumentSet:
    """The index document numbers passing a filter (architecture, OS, the caller's visibility).

    Ranking tests every text match against it, so membership is a frozenset's
    (~30 ns; Whoosh's ``BitSet`` answers ``in`` in Python, ~1 us, half of a
    common word's time under an architecture filter). :meth:`segment` gives
    each segment's share in segment numbers, computed once per set, so scoring
    drops the other documents at the leaves. A set belongs to one searcher:
    segment offsets name segments only there.
    """

    __slots__ = ("_documents", "_segments")

    def __init__(self, documents: Iterable[int] = ()) -> None:
        self._documents = frozenset(documents)
        self._segments: dict[int, frozenset[int]] = {}

    def __contains__(self, docnum: object) -> bool:
        return docnum in self._documents

    def __len__(self) -> int:
        return len(self._documents)

    def __iter__(self) -> Iterator[int]:
        return iter(self._documents)

    def __and__(self, other: DocumentSet) -> DocumentSet:
        return DocumentSet(self._documents & other._documents)

    def segment(self, offset: int, count: int) -> frozenset[int]:
        """The segment document numbers of this set's documents in the segment holding index
        documents ``offset`` to ``offset + count - 1``."""
        part = self._segments.get(offset)
        if part is None:
            end = offset + count
            part = frozenset(docnum - offset for docnum in self._documents if offset <= docnum < end)
            self._segments[offset] = part
        return part
