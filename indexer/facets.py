"""Facet counts: how many matches have each architecture, os, namespace, registry and label key.

Each segment's values per document are read once from its term index
(segments never change; a deleted document simply never matches) and kept
with the searcher; counting a search's facets is then one pass over its
matches. Namespaces count at every depth (``team`` and ``team/tools``);
label keys count once per document, the :data:`TOP_LABEL_KEYS` most frequent
kept. Only ``indexer/index.py`` uses this module.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

FACETS = ("arch", "os", "namespace", "registry", "label")
TOP_LABEL_KEYS = 10
TOP_VALUES = 50  # per facet: a namespace facet of 10,000 repositories is not a facet

SegmentCache = Callable[[tuple[str, ...], Callable[[], Any]], Any]


def segment_values(reader: Any, field: str) -> dict[int, list[str]]:
    """Segment document number -> its values of ``field`` (label: keys only), from the term index."""
    values: dict[int, list[str]] = {}
    if field == "registry":  # an ID column: one value per document
        column = reader.column_reader("registry")
        return {docnum: [value] for docnum, value in enumerate(column) if value}
    for term in reader.lexicon(field):
        text = term.decode("utf-8")
        if field == "label" and "=" in text:
            continue
        for docnum in reader.postings(field, text).all_ids():
            values.setdefault(docnum, []).append(text)
    return values


def count(matches: Iterable[int], searcher: Any, field: str, cached: SegmentCache) -> dict[str, int]:
    """How many of ``matches`` (index document numbers) hold each value of ``field``, most first."""
    counts: Counter[str] = Counter()
    by_segment = _by_segment(matches, searcher)
    for leaf, offset, docnums in by_segment:
        values = cached(("facet", str(leaf.segment().segment_id()), field), lambda: segment_values(leaf, field))
        get = values.get
        # one update of all the segment's values: Counter.update per document cost most of a count
        counts.update(chain.from_iterable(get(docnum - offset, ()) for docnum in docnums))
    top = TOP_LABEL_KEYS if field == "label" else TOP_VALUES
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top])


def _by_segment(matches: Iterable[int], searcher: Any) -> list[tuple[Any, int, list[int]]]:
    readers = list(searcher.reader().leaf_readers())
    ends = [offset + leaf.doc_count_all() for leaf, offset in readers]
    grouped: list[list[int]] = [[] for _ in readers]
    for docnum in matches:
        grouped[bisect_right(ends, docnum)].append(docnum)
    return [(leaf, offset, docnums) for (leaf, offset), docnums in zip(readers, grouped) if docnums]
