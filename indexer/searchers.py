"""A searcher of the latest commit that keeps the open readers of the segments it still reads.

Opening a segment reader opens its term index (a hash table header and a
pickled field map) and its postings file; Whoosh's ``ix.searcher()`` does
it for every segment at every commit. Under the soak benchmark's load the
follower commits every few hundred milliseconds, changing one or two of
ten segments, and reopening the rest was 7 % of the serving process's GIL
time. Whoosh's own ``Searcher.refresh()`` was meant to reuse readers but
in whoosh-reloaded 2.7.5 keeps the segments a merge replaced, so deleted
documents come back.

A segment's files never change; which of its documents are deleted is in
the table of contents, in the segment object a reader reads them from. So
a kept reader is given the new table's segment object (and forgets the
deleted set it cached). The readers of segments no longer read are closed.
"""

from __future__ import annotations

from typing import Any

from whoosh.index import FileIndex
from whoosh.reading import EmptyReader, MultiReader, SegmentReader
from whoosh.searching import Searcher


def renewed_searcher(ix: FileIndex, previous: Searcher) -> Searcher:
    """A searcher of ``ix``'s latest commit reusing ``previous``'s segment readers where it can.

    ``previous`` must not be used afterwards: readers it no longer needs are closed.
    """
    old = {str(leaf.segment().segment_id()): leaf for leaf, _ in previous.reader().leaf_readers()
           if type(leaf) is SegmentReader}
    try:
        toc = ix._read_toc()
        readers = [_kept(old.pop(str(segment.segment_id()), None), segment, toc.generation)
                   or SegmentReader(ix.storage, toc.schema, segment, generation=toc.generation)
                   for segment in toc.segments]
    except OSError:  # a commit replaced the table or a file as it was read: Whoosh's own retries
        previous.close()
        return ix.searcher()
    for unused in old.values():
        unused.close()
    return Searcher(_reader(readers, toc), fromindex=ix)


def _kept(leaf: SegmentReader | None, segment: Any, generation: int) -> SegmentReader | None:
    """``leaf`` reading ``segment``'s deletions at ``generation``; None without one."""
    if leaf is None:
        return None
    leaf._segment = segment
    leaf._perdoc._segment = segment
    leaf._gen = generation
    leaf.__dict__.pop("deleted_docs_set", None)  # a cached_property of the old deletions
    return leaf


def _reader(readers: list[SegmentReader], toc: Any) -> Any:
    if not readers:
        return EmptyReader(toc.schema)
    if len(readers) == 1:
        return readers[0]
    return MultiReader(readers, generation=toc.generation)
