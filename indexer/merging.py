"""When the search index's Whoosh segments merge: a little at every commit, more when idle.

Whoosh's default policy may merge every segment at once, a multi-second
stall of the only writer at 10,000 documents, and every push waits behind
the writer. :func:`bounded_merge` is the policy of a commit,
:func:`compact_merge` that of :meth:`indexer.index.SearchIndex.compact`,
which the follower calls while the document log is idle. Only
``indexer/index.py`` uses this module.
"""

from __future__ import annotations

import math
from typing import Any

from whoosh.reading import SegmentReader

# Merging at commit: segments of a tier (size within a factor MERGE_FACTOR)
# merge once MERGE_FACTOR of them exist, up to MAX_MERGE_DOCS documents: a
# merge costs about 1 ms per document here, and the writer, and so every
# push behind it, waits for it. Larger merges wait for an idle log
# (compact()), unless ingest never pauses and an index reaches MAX_SEGMENTS
# segments: then a commit may merge up to SUSTAINED_MERGE_DOCS. Fewer
# segments would make searches under sustained load faster (11 segments
# doubled a query's time on 2,000 repositories), but larger or more frequent
# merges at commit show in push-to-searchable: with 3 / 256 / 16, p99 at 20
# pushes/s on 1,000 repositories was 2.6-3.4 s in four runs, against
# 1.4-1.9 s with these (bench.run, 29 Nov).
MERGE_FACTOR = 4
MAX_MERGE_DOCS = 64
MAX_SEGMENTS = 48
SUSTAINED_MERGE_DOCS = 1024
# What a merge costs is the live documents it copies: a deleted one costs a skipped lookup per
# posting, a small fraction of that (this share, an estimate). Counting deleted documents in full
# once kept every segment from merging under pull-count churn, where each commit deletes documents
# of older segments: the repository index sat at 44 segments of 10-20 live documents in 30-70,
# and every search and every new searcher paid for each (bench/soak.py).
DELETED_COST = 1 / 16
# Merging when idle (compact()): one step merges segments of similar size
# into one of at most COMPACT_MERGE_DOCS documents. Searches want few
# segments: each costs every query a term lookup per field and its own
# scoring pass (seven segments made 1,000 repositories' queries 4-5x slower
# than one). A merge costs ~1.3 ms per document here and the writer, so any
# push arriving meanwhile, waits for it: 25,000 documents, ~30 s, is the
# longest such wait; 100,000 repositories end in about five segments. A
# larger segment joins only when at most COMPACT_RATIO times the smaller ones
# together: a short pause of the log never rewrites a large segment for a
# few new documents.
COMPACT_MERGE_DOCS = 25_000
COMPACT_RATIO = 4
# A run this small merges whatever its sizes (~2.6 s at most): a segment of
# one late document beside 999 others still cost every search a second pass.
COMPACT_SMALL_DOCS = 2000
# A segment with this share of deleted documents is rewritten when idle.
COMPACT_DELETED_SHARE = 0.25


def bounded_merge(writer: Any, segments: list[Any]) -> list[Any]:
    """Whoosh merge policy: merge small segments, never into one above ``MAX_MERGE_DOCS``.

    Segments are grouped in tiers by live document count (tier ``t`` holds
    ``MERGE_FACTOR**t`` up to ``MERGE_FACTOR**(t+1)`` documents). When a tier
    holds ``MERGE_FACTOR`` segments, the lowest such tier merges into the
    writer's new segment. Whoosh's default policy may merge every segment
    at once, a multi-second stall of the only writer at 10,000 documents;
    here a commit merges at most ``MAX_MERGE_DOCS`` documents' worth
    (:func:`merge_cost`), so the number of segments grows by one per ``MAX_MERGE_DOCS``
    until :meth:`SearchIndex.compact`, or until there are ``MAX_SEGMENTS``:
    from then on the limit is ``SUSTAINED_MERGE_DOCS``.
    """
    limit = SUSTAINED_MERGE_DOCS if len(segments) >= MAX_SEGMENTS else MAX_MERGE_DOCS
    return _merge_into(writer, segments, _segments_to_merge(segments, limit))


def compact_merge(writer: Any, segments: list[Any]) -> list[Any]:
    """Whoosh merge policy of :meth:`SearchIndex.compact`: see :func:`compaction`."""
    return _merge_into(writer, segments, compaction(segments))


def compaction(segments: list[Any]) -> list[Any]:
    """What one :meth:`SearchIndex.compact` step merges in an index of ``segments``.

    The longest run of segments, in order of size (documents, deleted ones
    included), in which each is at most ``COMPACT_RATIO`` times those before
    it together, up to ``COMPACT_MERGE_DOCS`` documents in all, when that is
    two or more; else one segment to purge of its deleted documents; else
    none. A run of at most ``COMPACT_SMALL_DOCS`` documents in all needs no
    ratio. A run need not start at the smallest segment: one tiny segment must
    not keep every other from merging (9, 38, 40, ... documents once left
    seven segments at 1,000 repositories, each search paying for all seven).
    """
    ordered = sorted(segments, key=lambda s: s.doc_count_all())
    chosen: list[Any] = []
    for start in range(len(ordered)):
        run = _run_from(ordered[start:])
        if len(run) > len(chosen):
            chosen = run
    if len(chosen) > 1:
        return chosen
    wasteful = [s for s in segments if s.deleted_count() > COMPACT_DELETED_SHARE * s.doc_count_all()]
    return wasteful[:1]


def _run_from(ordered: list[Any]) -> list[Any]:
    """The first of ``ordered`` (by size) that :func:`compaction` would merge together."""
    chosen: list[Any] = []
    total = 0
    for segment in ordered:
        size = segment.doc_count_all()
        within_ratio = size <= COMPACT_RATIO * total or total + size <= COMPACT_SMALL_DOCS
        if total + size > COMPACT_MERGE_DOCS or (chosen and not within_ratio):
            break
        chosen.append(segment)
        total += size
    return chosen


def _merge_into(writer: Any, segments: list[Any], chosen: list[Any]) -> list[Any]:
    """Add the documents of the ``chosen`` segments to ``writer``; the segments that remain."""
    for segment in chosen:
        reader = SegmentReader(writer.storage, writer.schema, segment)
        writer.add_reader(reader)
        reader.close()
    return [segment for segment in segments if segment not in chosen]


def merge_cost(segment: Any) -> float:
    """What merging ``segment`` costs, in live documents copied (see :data:`DELETED_COST`)."""
    return float(segment.doc_count() + DELETED_COST * segment.deleted_count())


def _segments_to_merge(segments: list[Any], limit: int) -> list[Any]:
    tiers: dict[int, list[Any]] = {}
    for segment in sorted(segments, key=lambda s: s.doc_count()):
        if merge_cost(segment) < limit:
            tiers.setdefault(_tier(segment.doc_count()), []).append(segment)
    for tier in sorted(tiers):
        if len(tiers[tier]) >= MERGE_FACTOR:
            chosen = _within(tiers[tier], limit)
            return chosen if len(chosen) > 1 else []
    return []


def _tier(documents: int) -> int:
    return 0 if documents < MERGE_FACTOR else int(math.log(documents, MERGE_FACTOR))


def _within(segments: list[Any], budget: int) -> list[Any]:
    """The first ``segments`` whose merge costs add up to at most ``budget``."""
    chosen, total = [], 0.0
    for segment in segments:
        if total + merge_cost(segment) > budget:
            break
        chosen.append(segment)
        total += merge_cost(segment)
    return chosen
