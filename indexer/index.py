"""The search index: two Whoosh indexes behind a small interface.

The index is a cache of the document log and can always be rebuilt from it.
Exactly one writer (the follower) calls :meth:`SearchIndex.apply`; any number
of threads may search at once, each with its own searchers, replaced (never
refreshed) after a commit.

Layout: the index directory holds ``repositories/`` and ``tags/``, one Whoosh
index per document kind, so a repository search scans only repository
documents, and a ``LAYOUT`` file naming this layout. A directory without that
file or with another layout (e.g. the single index of earlier versions) is
cleared and recreated empty on open: the follower then rebuilds it from the
start of the document log. The repository index also records the applied
log positions and is committed last, so a crash between the two commits
replays the batch, which is idempotent.

Query text is never parsed as syntax. It is split on white space into
chunks; each chunk is analysed with each searchable field's own analyzer,
and every chunk must match in at least one field (AND across chunks, OR
across fields). A chunk ending in ``*`` matches its last word as a prefix.
Quotes, colons, ``AND``, lone ``*`` and other punctuation are just text: a
chunk with no letters or digits is ignored, and a query with no words at all
selects by the filters alone, as an empty one does.

Ranking: a query equal to a whole repository name or to its last path
segment ranks that repository first; then BM25, with name matches boosted.
An empty query lists the newest pushes first. The total counts every match.
Matches are scored a posting block at a time (:mod:`indexer.ranking`), with
exactly the scores and order Whoosh's own collector gives, for a fraction of
its per-document cost (``bench/query_profile.txt``).

Commits never merge large segments: see :mod:`indexer.merging`.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from functools import cached_property
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.index import FileIndex
from whoosh.query import And, AndMaybe, ConstantScoreQuery, Or, Query, Term

from indexer.docsets import DocumentSet
from indexer.documents import Document, RepositoryDocument, TagDocument, document_from_json
from indexer.merging import bounded_merge, compact_merge, compaction
from indexer.prefixes import SegmentPrefix
from indexer.ranking import TreeOr, ranked_matches
from indexer.segment_scoring import Bm25, Scorers
from indexer.searchers import renewed_searcher
from indexer.segment_cache import forget_segments
from indexer.terms import cache_term_lookups
from indexer.query_language import All as QueryAll
from indexer.facets import FACETS
from indexer.facets import count as count_facet
from indexer.query_language import Digest, Exact, Expression, KeyValue, Word
from indexer.query_language import parse as parse_query
from indexer.highlights import highlights, text_terms
from indexer.limits import check_deadline, check_expansions
from indexer.joins import Key, RepositoryKeys, segment_keys
from indexer.lineage import Relative, first_layers, relatives
from indexer.spelling import corrected
from indexer.storage import MappedFileStorage, committed_after
from indexer.suggest import (
    KEEP_RANKING_FROM,
    MOST_SUGGESTIONS,
    NameKeys,
    Suggestion,
    segment_name_keys,
    starting_with,
    tag_suggestions,
)
from indexer.visibility import Visibility, visible
from indexer.translate import tag_condition, translate
from indexer.schema import (
    META_ID,
    SEARCHABLE_FIELDS,
    Kind,
    build_schema,
    document_fields,
    meta_fields,
    parse_time,
    positions_from_meta,
)
from regsearch.logs import Positions

# Ranking tiers, added to text relevance (a BM25 score here stays far below 1,000): the
# tiers of one repository add up, so each tier outranks every one below it.
EXACT_NAME_SCORE = 4000.0
LAST_SEGMENT_SCORE = 2000.0
EXACT_LAST_SEGMENT_SCORE = 500.0
PREFIX_SCORE = 1000.0
MIN_PREFIX_TIER = 3  # shorter prefixes start thousands of names at 100,000 repositories
MAX_PREFIX_TIER = 20_000  # a prefix starting more names than this ranks none of them higher
LAYOUT_FILE = "LAYOUT"
LAYOUT = "3: repositories/ and tags/, query-language fields, whoosh-reloaded 2.7.5\n"
# Commit order: the repository index holds the positions and goes last.
KINDS: tuple[Kind, ...] = ("tag", "repository")
DIRECTORIES: dict[Kind, str] = {"tag": "tags", "repository": "repositories"}
# The single Whoosh index of layout 1 (and of a pre-layout directory).
_OLD_FILE_PREFIXES = ("_MAIN_", "MAIN_")
_WRITER_TIMEOUT_SECONDS = 1.0
# Whoosh's default codec zlib-compresses every posting block, even the one-
# posting blocks a small commit writes for nearly every term: about a fifth of a
# commit's time for a few bytes saved. Each segment records its codec, so
# segments written before this still read.
_CODEC = W3Codec(compression=0)
# How stale a searcher may be when another process (the follower's) commits.
REFRESH_SECONDS = 0.05
_SCHEMAS = {kind: build_schema(kind) for kind in KINDS}
_FILTER_FIELDS = ("arch", "os")
_CACHED_VALUES = 64
# Decoded documents kept per searcher: decoding is most of a small query's time.
_CACHED_DOCUMENTS = 2048


class IndexLocked(RuntimeError):
    """Another writer holds the index directory's lock.

    Only one process may write an index directory: give each search replica
    its own directory, or stop the other process.
    """


@dataclass(frozen=True)
class SearchRequest:
    """A search: free text ``q`` plus exact filters, one page of results."""

    q: str = ""
    kind: Literal["repository", "tag"] = "repository"
    # q in the query language (indexer.query_language) rather than plain words
    language: bool = False
    # more terms every result must match (filters given as query parameters)
    conditions: tuple[Expression, ...] = ()
    arch: str | None = None
    os: str | None = None
    limit: int = 25
    offset: int = 0
    # relevance (newest first without text), updated (newest push first), name, pulls (most first)
    sort: Literal["relevance", "updated", "name", "pulls"] = "relevance"
    # the repositories the caller may see (None: every one); nothing else is matched or counted
    visible: Visibility | None = None


@dataclass(frozen=True)
class SearchPage:
    """The documents of one page and the number of all matches."""

    total: int
    documents: tuple[Document, ...]


@dataclass(frozen=True)
class _SharedSearcher:
    """The searcher of one kind's index, shared by every thread under that kind's lock, and what
    was computed on it (``cached``).

    One per kind, not one per thread: each Whoosh searcher maps every
    segment file and keeps its own caches, and with one per HTTP thread the
    search process held 754 MiB at 10,000 tags (8 threads) against 246 MiB
    (2 threads). A Whoosh searcher is not safe to use from two threads at
    once, hence the lock; searches hold the GIL anyway.
    """

    searcher: Any
    generation: int
    checked_at: float
    computed: dict[tuple[str | None, ...], Any] = field(default_factory=dict)
    per_segment: dict[tuple[str, ...], Any] = field(default_factory=dict)
    documents: dict[tuple[str, int], Document] = field(default_factory=dict)
    columns: dict[tuple[str, ...], Any] = field(default_factory=dict)
    scorers: dict[tuple[str, bytes], Bm25] = field(default_factory=dict)

    def document(self, docnum: int) -> Document:
        """The document stored as ``docnum``, decoded once per segment.

        A segment's stored documents never change, so they are kept by
        ``(segment id, number in the segment)`` and the next searcher takes
        over those of the segments it still reads (:func:`_carried`): under
        load a commit comes every few hundred milliseconds, and decoding
        was a twentieth of the serving process's time when each searcher
        started over. The cache starts over past ``_CACHED_DOCUMENTS``.
        Callers share the returned objects and must not change their ``labels``.
        """
        leaf = bisect_right(self.leaves[0], docnum) - 1
        key = (self.leaves[1][leaf], docnum - self.leaves[0][leaf])
        found = self.documents.get(key)
        if found is None:
            if len(self.documents) >= _CACHED_DOCUMENTS:
                self.documents.clear()
            found = self.documents[key] = document_from_json(self.searcher.stored_fields(docnum)["document"])
        return found

    @cached_property
    def leaves(self) -> tuple[list[int], list[str]]:
        """The first document number of each segment this searcher reads, in order, and the segment's id."""
        leaves = [(offset, str(leaf.segment().segment_id()))
                  for leaf, offset in self.searcher.reader().leaf_readers() if leaf.segment() is not None]
        return [offset for offset, _ in leaves], [segment for _, segment in leaves]

    def cached(self, key: tuple[str | None, ...], compute: Callable[[], Any]) -> Any:
        """``compute()``'s value for ``key`` on this searcher, computed once.

        Keys hold user-given filter values: the cache starts over past
        ``_CACHED_VALUES`` of them rather than grow without bound.
        """
        if key not in self.computed:
            if len(self.computed) >= _CACHED_VALUES:
                self.computed.clear()
            self.computed[key] = compute()
        return self.computed[key]

    def segment_value(self, key: tuple[str, ...], compute: Callable[[], Any]) -> Any:
        """``compute()``'s value for ``key`` = ``(what, segment id, ...)``, read from that segment's
        files alone (its field lengths, its names), computed once per segment.

        Apart from :meth:`cached`: these keys are bounded by segments times
        fields, not by what users ask, and sharing that cache's bound let 29
        segments' lengths clear it at every query at 100,000 repositories,
        recomputing an architecture filter (300 ms) each time. A segment's
        files never change (only which of its documents are deleted, which
        these values leave to their users), so the next searcher takes over
        the values of the segments it still reads (:func:`_carried`): under
        load a commit comes every few hundred milliseconds and changes one
        or two segments of many. Values must be plain data, not readers of
        this searcher's open files (:meth:`segment_columns` holds those).
        """
        if key not in self.per_segment:
            self.per_segment[key] = compute()
        return self.per_segment[key]

    def segment_columns(self, key: tuple[str, ...], compute: Callable[[], Any]) -> Any:
        """Like :meth:`segment_value`, for column readers: they read this searcher's open files,
        so they end with it."""
        if key not in self.columns:
            self.columns[key] = compute()
        return self.columns[key]


class SearchIndex:
    """One directory; one writer (the follower). Thread-safe for searching."""

    def __init__(self, indexes: dict[Kind, Any], path: Path) -> None:
        self._ix = indexes
        self._path = path
        self._lock = threading.Lock()
        self._generation = 0
        self._searchers: dict[Kind, _SharedSearcher] = {}
        # Held while a kind's searcher is used; always taken in KINDS order.
        self._using_locks = {kind: threading.RLock() for kind in KINDS}

    @classmethod
    def open(cls, path: Path) -> SearchIndex:
        """Open the index in ``path``, creating it empty when missing or of another layout."""
        path.mkdir(parents=True, exist_ok=True)
        if _layout(path) != LAYOUT:
            _clear(path)
        indexes = {kind: _open_or_create(path / DIRECTORIES[kind], kind) for kind in KINDS}
        if _layout(path) != LAYOUT:
            _write_layout(path)
        return cls(indexes, path)

    def applied_positions(self) -> dict[int, int]:
        """The document-log positions to resume from; empty for a new index.

        Committed in the same commit as the batch's repository documents,
        after its tag documents, so after a crash the follower resumes
        exactly after the last durable batch.
        """
        with self._using("repository") as entry:
            return positions_from_meta(entry.searcher.document(id=META_ID))

    def apply(self, changes: Sequence[tuple[str, Document | None]], positions: Positions) -> None:
        """Write one batch of document-log changes and the ``positions`` after it.

        ``changes`` are ``(doc_id, document)`` pairs in log order; ``None`` is a
        tombstone. Several changes to one id collapse to the last. The key must
        equal the document's ``doc_id`` (ValueError otherwise, before writing).
        Raises :class:`IndexLocked` when another writer holds the directory.
        Searches started after this returns see the batch.
        """
        latest = _last_change_per_id(changes)
        with self._writers() as writers, self._using(KINDS[0]) as first, self._using(KINDS[1]) as second:
            batch = _Batch(writers, {KINDS[0]: first.searcher, KINDS[1]: second.searcher})
            for doc_id, doc in latest.items():
                batch.replace(doc_id, doc)
            batch.replace(META_ID, None)
            writers["repository"].add_document(**meta_fields(positions))
            for kind in KINDS:  # an untouched index keeps its generation, and its searchers
                if kind in batch.touched or kind == "repository":
                    writers[kind].commit(mergetype=bounded_merge)
        with self._lock:
            self._generation += 1

    def compact(self) -> bool:
        """Merge segments for faster searches, one bounded step; call it while the log is idle.

        A step merges the smallest segments of one index (repositories first,
        the index searches use most) into one segment of at most
        ``indexer.merging.COMPACT_MERGE_DOCS`` documents, or rewrites a segment holding many
        deleted documents. Returns True when it merged something (another step
        may merge more), False when there is nothing left to do. Raises
        :class:`IndexLocked` like :meth:`apply`; documents and positions are
        unchanged, so searches see the same results.
        """
        for kind in reversed(KINDS):
            if self._compact_step(kind):
                with self._lock:
                    self._generation += 1
                return True
        return False

    def _compact_step(self, kind: Kind) -> bool:
        writer = self._writer(kind)
        try:
            if not compaction(writer.segments):
                return False
            writer.commit(mergetype=compact_merge)
            return True
        finally:
            _cancel_if_open(writer)

    def segments(self) -> dict[Kind, int]:
        """How many Whoosh segments each kind's index has: every search pays per segment."""
        counts: dict[Kind, int] = {}
        for kind in KINDS:
            with self._using(kind) as entry:
                counts[kind] = len(entry.searcher.reader().leaf_readers())
        return counts

    def is_empty(self) -> bool:
        """True when the index holds no repository or tag document."""
        with self._using("repository") as entry:
            repositories = entry.searcher
            meta = 0 if repositories.document(id=META_ID) is None else 1
            if repositories.doc_count() - meta != 0:
                return False
        with self._using("tag") as entry:
            return bool(entry.searcher.doc_count() == 0)

    def search(self, request: SearchRequest) -> SearchPage:
        """One page of documents of ``request.kind`` matching ``request``.

        Plain words never raise on odd text. In the query language
        (``request.language``), raises :class:`QuerySyntaxError` for a query
        that does not parse. Raises :class:`~indexer.limits.QueryLimitError`
        for a query past its limits (see :mod:`indexer.limits`).
        """
        text, exact_name = self._text(request)
        if text is False:
            return SearchPage(0, ())
        with self._using(request.kind) as entry:
            if text is None:
                return _page(entry, _ordered_docs(entry, request), request)
            check_expansions(text, entry.searcher.reader())
            allowed = _filter_set(entry, request)
            if allowed is not None and not allowed:  # whoosh reads an empty filter as no filter
                return SearchPage(0, ())
            if request.sort != "relevance":
                total, best = _sorted_matches(entry, text, request, allowed)
                return _page(entry, best, request, total)
            total, best = ranked_matches(entry.searcher, _ranked(text, exact_name), allowed,
                                         request.offset + request.limit, entry.segment_value,
                                         _prefix_bonus(entry, exact_name), Scorers(entry.searcher, entry.scorers))
            return _page(entry, best, request, total)

    def highlights(self, request: SearchRequest, documents: Sequence[Document]) -> list[dict[str, list[str]]]:
        """For each of ``documents`` (a page of ``request``'s results), the fragments of its title and
        description holding the query's words (see :mod:`indexer.highlights`)."""
        text, _ = self._text(request)
        if not text:
            return [{} for _ in documents]
        with self._using(request.kind) as entry:
            terms = text_terms(text, entry.searcher.reader())
        analyzer = _SCHEMAS[request.kind]["text"].analyzer
        return [highlights(document, terms, analyzer) for document in documents]

    def facets(self, request: SearchRequest) -> dict[str, dict[str, int]]:
        """Counts of each facet's values among ``request``'s matches (see :mod:`indexer.facets`),
        each facet counted with every filter but its own: the arch counts are those the other
        filters leave, so picking another architecture finds that many."""
        narrowed = {facet: _without_filter(request, facet) for facet in FACETS}
        texts: dict[SearchRequest, Query | None | Literal[False]] = {}  # facets without a filter share one
        for each in narrowed.values():
            if each not in texts:  # before taking the searcher: a join takes the tag searcher first
                texts[each] = self._text(each)[0]
        counts: dict[str, dict[str, int]] = {}
        with self._using(request.kind) as entry:  # one searcher for every count, so do their matches
            found: dict[SearchRequest, list[int]] = {}
            for facet, each in narrowed.items():
                if each not in found:
                    found[each] = [] if texts[each] is False else _matches(entry, texts[each], each)
                check_deadline()
                counts[facet] = count_facet(found[each], entry.searcher, facet, entry.segment_value)
        return counts

    def _text(self, request: SearchRequest) -> tuple[Query | None | Literal[False], str]:
        """The query of ``request``'s text and conditions (None for none: every document; False
        when nothing can match), and the name a one-word query would rank first. Joins take the
        tag searcher, and searchers are always taken tag first (see apply()): call this holding none."""
        if not request.language:
            words = text_query(request.q)
            if not request.conditions:
                return words, request.q
            filters = translate(QueryAll(request.conditions), request.kind, _word_query, self._repositories_with_tags)
            if filters is None:
                return False, request.q
            return (filters if words is None else And([words, filters])), request.q
        parsed = parse_query(request.q)
        exact_name = parsed.text if isinstance(parsed, Word) else ""
        expression = _with_conditions(parsed, request.conditions)
        if expression is None:
            return None, exact_name
        text = translate(expression, request.kind, _word_query, self._repositories_with_tags)
        return (False if text is None else text), exact_name

    def _repositories_with_tags(self, tag_query: Query) -> Query | None:
        """The repositories, as a repository-index query, of the tags matching ``tag_query``
        (see :mod:`indexer.joins`); computed once per tag searcher."""
        with self._using("tag") as entry:
            keys = entry.cached(("join", repr(tag_query)), lambda: _tag_keys(entry, tag_query))
        return RepositoryKeys(keys, self._repository_keys) if keys else None

    def _repository_keys(self, reader: Any) -> Mapping[Key, list[int]]:
        """A repository segment's key table; asked by :class:`RepositoryKeys` matchers, which run
        under the repository searcher's lock."""
        entry = self._searchers["repository"]
        return entry.segment_value(("join keys", str(reader.segment().segment_id())), lambda: segment_keys(reader))

    def tags_with_digest(self, digest: Digest, visibility: Visibility | None = None) -> list[TagDocument]:
        """Every visible tag whose manifest, index children, configs or layers hold ``digest`` (or,
        for a hex prefix, a digest starting with it), by repository and tag."""
        found = self._find("tag", tag_condition(digest), limit=None)
        return sorted((d for d in found if isinstance(d, TagDocument) and visible(visibility, d.repository)),
                      key=lambda d: (d.repository, d.tag, d.registry))

    def relatives(
        self, image: TagDocument, direction: Literal["base", "derived"], visibility: Visibility | None = None
    ) -> list[Relative]:
        """The visible images ``image`` is built on (``base``) or that are built on it
        (``derived``); see :mod:`indexer.lineage`."""
        firsts = sorted(first_layers(image))
        if not firsts:
            return []
        found = self._find("tag", Or([Term("digest", layer) for layer in firsts]), limit=None)
        return relatives(image, (d for d in found if isinstance(d, TagDocument)
                                 and visible(visibility, d.repository)), direction)

    def tag(
        self, repository: str, tag: str, registry: str | None = None, visibility: Visibility | None = None
    ) -> TagDocument | None:
        """The tag document of ``repository:tag`` (in ``registry``, else the first registry holding
        it); None when missing or not visible."""
        if not visible(visibility, repository):
            return None
        found = [d for d in self._find("tag", Term("repository", repository), limit=None)
                 if isinstance(d, TagDocument) and d.tag == tag and registry in (None, d.registry)]
        return min(found, key=lambda d: d.registry, default=None)

    def did_you_mean(self, q: str, visibility: Visibility | None = None) -> str | None:
        """``q`` with its unknown words spelled as repository names spell them; None when all are
        known, or when the corrected query finds nothing visible (its words may come from names
        the caller may not see)."""
        with self._using("repository") as entry:
            suggestion = corrected(q, entry.searcher.reader(), _SCHEMAS["repository"])
        if suggestion is None or visibility is None:
            return suggestion
        found = self.search(SearchRequest(q=suggestion, language=True, limit=1, visible=visibility))
        return suggestion if found.total else None

    def suggest(self, prefix: str, limit: int, visibility: Visibility | None = None) -> list[Suggestion]:
        """Completions of ``prefix`` among visible repositories: their names, or with a ``:``
        that repository's tags (see :mod:`indexer.suggest`)."""
        allows = None if visibility is None else visibility.allows
        with self._using("repository") as entry:
            keys: NameKeys = entry.cached(("suggest",), lambda: NameKeys.read(entry.searcher))
            if ":" not in prefix and allows is None and keys.count(prefix) > KEEP_RANKING_FROM:
                # what everyone types first ("l", "lib") ranks thousands of names: once per searcher
                best = entry.cached(("suggest", prefix.lower()), lambda: keys.repositories(prefix, MOST_SUGGESTIONS))
                return best[:limit]
        if ":" not in prefix:
            return keys.repositories(prefix, limit, allows)
        if allows is not None and not allows(prefix.partition(":")[0]):
            return []
        with self._using("tag") as tags:
            return tag_suggestions(keys, tags.searcher, prefix, limit)

    def repository_names(self) -> frozenset[str]:
        """The name of every repository in the index (of any registry), read once per searcher.

        While the index is unchanged this is mostly the same object, so a
        caller that keeps it can skip comparing sets when it gets that object back.
        """
        with self._using("repository") as entry:
            names: frozenset[str] = entry.cached(("names",), lambda: _live_names(entry.searcher))
            return names

    def repository(
        self, name: str, registry: str | None = None, visibility: Visibility | None = None
    ) -> tuple[RepositoryDocument, tuple[TagDocument, ...]] | None:
        """The repository document ``name`` and its tags, newest push first; None when missing
        or not visible.

        Without ``registry``, the first registry (by name) holding ``name`` answers.
        """
        if not visible(visibility, name):
            return None
        found = self._find("repository", _repository_query(name, registry), sortedby="registry", limit=1)
        if not found:
            return None
        repo = found[0]
        assert isinstance(repo, RepositoryDocument)
        tags = self._find("tag", And([Term("repository", name), Term("registry", repo.registry)]), limit=None)
        return repo, _newest_first([t for t in tags if isinstance(t, TagDocument)])

    def close(self) -> None:
        """Release every searcher and the index; the object is unusable afterwards."""
        with self._lock:
            searchers, self._searchers = list(self._searchers.values()), {}
        for entry in searchers:
            entry.searcher.close()
        for ix in self._ix.values():
            ix.close()

    def _find(self, kind: Kind, query: Query, **kwargs: Any) -> list[Document]:
        with self._using(kind) as entry:
            results = entry.searcher.search(query, **kwargs)
            return [document_from_json(hit["document"]) for hit in results]

    @contextmanager
    def _writers(self) -> Iterator[dict[Kind, Any]]:
        """A writer per index, all locked before anything is written; every writer
        not committed when the block ends is cancelled."""
        writers: dict[Kind, Any] = {}
        with ExitStack() as cleanup:
            for kind in KINDS:
                writers[kind] = self._writer(kind)
                cleanup.callback(_cancel_if_open, writers[kind])
            yield writers

    def _writer(self, kind: Kind) -> Any:
        try:
            # compound=False: a searcher opens a compound segment's parts as in-memory copies
            # (whoosh.filedb.compound: BytesIO over the mapped file), 315 MiB of heap per
            # searcher at 100,000 tags; separate files are mapped, not copied.
            return self._ix[kind].writer(timeout=_WRITER_TIMEOUT_SECONDS, codec=_CODEC, compound=False)
        except whoosh_index.LockError as exc:
            raise IndexLocked(
                f"another process owns the index directory {self._path} (its write lock is held); "
                "each search replica needs its own index directory"
            ) from exc

    @contextmanager
    def _using(self, kind: Kind) -> Iterator[_SharedSearcher]:
        """The searcher of ``kind``, for this thread alone until the block ends."""
        with self._using_locks[kind]:
            yield self._entry(kind)

    def _entry(self, kind: Kind) -> _SharedSearcher:
        """The searcher of ``kind``, renewed after a local commit or, for another process's
        commits, at most ``REFRESH_SECONDS`` late; call it holding ``kind``'s lock (``_using``)."""
        now = time.monotonic()
        generation = self._generation
        entry = self._searchers.get(kind)
        if entry is not None and entry.generation == generation and now - entry.checked_at < REFRESH_SECONDS:
            return entry
        renewed = self._renewed(kind, entry)
        with self._lock:
            if renewed is entry:
                renewed = replace(entry, generation=generation, checked_at=now)
            else:
                renewed = _SharedSearcher(renewed.searcher, generation, now)
                if entry is not None:
                    kept = set(renewed.leaves[1])
                    renewed.per_segment.update(_carried(entry.per_segment, kept, 1))
                    renewed.documents.update(_carried(entry.documents, kept, 0))
                    forget_segments(set(entry.leaves[1]) - kept)
            self._searchers[kind] = renewed
        return renewed

    def _renewed(self, kind: Kind, entry: _SharedSearcher | None) -> _SharedSearcher:
        """``entry`` if its searcher still reads the latest commit, else one with a new searcher,
        which keeps the readers of the segments both read (:mod:`indexer.searchers`)."""
        ix = self._ix[kind]
        if entry is None:
            searcher = ix.searcher()
        elif committed_after(ix, entry.searcher.reader().generation()):
            searcher = renewed_searcher(ix, entry.searcher)
        else:
            return entry
        cache_term_lookups(searcher)
        return _SharedSearcher(searcher, -1, 0.0)


CarriedKey = TypeVar("CarriedKey", tuple[str, ...], tuple[str, int])


def _carried(values: dict[CarriedKey, Any], kept: set[str], at: int) -> dict[CarriedKey, Any]:
    """Those of a searcher's per-segment ``values`` whose key names, at position ``at``, a segment
    ``kept`` (one the next searcher still reads; see :meth:`_SharedSearcher.segment_value` and
    :meth:`_SharedSearcher.document`)."""
    return {key: value for key, value in values.items() if key[at] in kept}


def text_query(q: str) -> Query | None:
    """The query for user text ``q``: every chunk must match some field; None without words."""
    chunks = [_chunk_query(chunk) for chunk in q.split()]
    clauses = [clause for clause in chunks if clause is not None]
    return And(clauses) if clauses else None


def _with_conditions(expression: Expression | None, conditions: tuple[Expression, ...]) -> Expression | None:
    if not conditions:
        return expression
    return QueryAll(((expression,) if expression is not None else ()) + conditions)


def _word_query(text: str, prefix: bool) -> Query | None:
    """How one free word of the query language matches: as a word of plain text does."""
    return _chunk_query(text + "*" if prefix else text)


def _chunk_query(chunk: str) -> Query | None:
    prefix = chunk.endswith("*")
    per_field = [_field_query(name, chunk.rstrip("*"), prefix) for name in SEARCHABLE_FIELDS]
    matches = [clause for clause in per_field if clause is not None]
    return TreeOr(matches) if matches else None


def _field_query(name: str, text: str, prefix: bool) -> Query | None:
    # Both kinds' schemas analyse searchable fields alike.
    words = list(_SCHEMAS["repository"][name].process_text(text, mode="query"))
    if not words:
        return None
    last = SegmentPrefix(name, words[-1]) if prefix else Term(name, words[-1])
    return And([Term(name, word) for word in words[:-1]] + [last])


def _ranked(text: Query, q: str) -> Query:
    """``text``, with repositories whose name equals the whole one-word query first, then those
    with its words in their last path segment (that segment equal to it first); the prefix tier
    is a bonus (:func:`_prefix_bonus`)."""
    key = _tier_key(q)
    if not key:
        return text
    tiers = [ConstantScoreQuery(Term("name_full", key), EXACT_NAME_SCORE),
             ConstantScoreQuery(Term("name_last", key), EXACT_LAST_SEGMENT_SCORE)]
    words = list(_SCHEMAS["repository"]["last_words"].process_text(key, mode="query"))
    if words:
        tiers.append(ConstantScoreQuery(And([Term("last_words", w) for w in words]), LAST_SEGMENT_SCORE))
    return AndMaybe(text, TreeOr(tiers))


def _tier_key(q: str) -> str:
    """The one-word query the ranking tiers compare names with; empty for several words."""
    key = q.strip().rstrip("*").lower()
    return "" if any(ch.isspace() for ch in key) else key


def _prefix_bonus(entry: _SharedSearcher, q: str) -> dict[int, float] | None:
    """The documents whose repository name or its last segment starts with the one-word query,
    each with the prefix tier's score: from each segment's sorted names, where a Whoosh prefix
    query would expand to thousands of names for "lib" at 100,000 repositories."""
    key = _tier_key(q)
    if len(key) < MIN_PREFIX_TIER:
        return None
    bonus: dict[int, float] = {}
    for leaf, offset in entry.searcher.reader().leaf_readers():
        if leaf.segment() is None:  # an empty index's reader has no segment
            continue
        keys = entry.segment_value(("names", str(leaf.segment().segment_id())), lambda: segment_name_keys(leaf))
        bonus.update(dict.fromkeys((offset + docnum for docnum in starting_with(keys, key)), PREFIX_SCORE))
        if len(bonus) > MAX_PREFIX_TIER:
            return None
    return bonus


def _tag_keys(entry: _SharedSearcher, tag_query: Query) -> frozenset[Key]:
    """The ``(registry, repository)`` of every tag ``tag_query`` matches, read from each segment's
    columns (their readers kept per segment: opening one reads its whole offset table)."""
    check_expansions(tag_query, entry.searcher.reader())
    keys: set[Key] = set()
    for leaf, _ in entry.searcher.leaf_searchers():
        check_deadline()
        reader = leaf.reader()
        if reader.segment() is None or not reader.has_column("repository"):
            continue
        docnums = list(leaf.docs_for_query(tag_query))
        if not docnums:
            continue
        registries, names = entry.segment_columns(
            ("join columns", str(reader.segment().segment_id())),
            lambda: (reader.column_reader("registry"), reader.column_reader("repository")),
        )
        keys.update((registries[d], names[d]) for d in docnums)
    return frozenset(keys)


def _filter_values(request: SearchRequest) -> tuple[str | None, ...]:
    """What ``request``'s filters are keyed by: arch, os, then the visible patterns."""
    visible = request.visible.key() if request.visible is not None else ("*everything*",)
    return (request.arch.lower() if request.arch else None, request.os.lower() if request.os else None, *visible)


def _filter_set(entry: _SharedSearcher, request: SearchRequest) -> DocumentSet | None:
    """The documents passing ``request``'s filters and visible to its caller, computed once per
    searcher; None without filters."""
    arch_os = _filter_values(request)[:2]
    if arch_os == (None, None) and request.visible is None:
        return None
    searcher = entry.searcher
    allowed = None
    if arch_os != (None, None):
        terms = [Term(name, value) for name, value in zip(_FILTER_FIELDS, arch_os) if value is not None]
        allowed = entry.cached(("filter", *arch_os), lambda: DocumentSet(searcher.docs_for_query(And(terms))))
    if request.visible is None:
        return allowed
    seen = _visible_set(entry, request.visible)
    if allowed is None:
        return seen
    return entry.cached(("filter", *_filter_values(request)), lambda: allowed & seen)


def _visible_set(entry: _SharedSearcher, visibility: Visibility) -> DocumentSet:
    """The documents of repositories ``visibility`` allows, once per searcher and caller's patterns."""
    def compute() -> Any:
        reader = entry.searcher.reader()
        if reader.doc_count_all() == 0:
            return DocumentSet()
        names = list(reader.column_reader("repository", translate=False))  # bytes: decoded once per name
        allowed = {name for name in set(names) if name and visibility.allows(name.decode())}
        return DocumentSet(docnum for docnum, name in enumerate(names) if name in allowed)

    return entry.cached(("visible", *visibility.key()), compute)


def _live_names(searcher: Any) -> frozenset[str]:
    """The repository names of ``searcher``'s live documents (not deleted, not the positions)."""
    reader = searcher.reader()
    if reader.doc_count_all() == 0:
        return frozenset()
    deleted = _deleted(reader)
    names = reader.column_reader("repository")
    return frozenset(name for docnum, name in enumerate(names) if name and docnum not in deleted)


def _ordered_docs(entry: _SharedSearcher, request: SearchRequest) -> list[int]:
    """Every document passing ``request``'s filters in ``request.sort`` order (``relevance``, with
    no text to rank by, is newest push first).

    Computed once per searcher from the sortable columns: cheaper than
    Whoosh's sorting collector, which computes every document's key per search.
    """
    order = "updated" if request.sort == "relevance" else request.sort
    every = _order(entry, order)
    allowed = _filter_set(entry, request)
    if allowed is None:
        return every
    return entry.cached((order, *_filter_values(request)), lambda: [d for d in every if d in allowed])


def _order(entry: _SharedSearcher, order: str) -> list[int]:
    """The live documents in ``order`` (``updated``, ``name`` or ``pulls``), once per searcher."""
    return entry.cached((order,), lambda: _sorted_by(entry.searcher, order))


def _sorted_matches(entry: _SharedSearcher, query: Query, request: SearchRequest, allowed: DocumentSet | None) -> tuple[int, list[int]]:
    """How many documents match ``query`` (in ``allowed``), and the first of them in ``request.sort`` order."""
    matches = set(entry.searcher.docs_for_query(query))
    check_deadline()
    if allowed is not None:
        matches = {d for d in matches if d in allowed}
    rank = entry.cached((request.sort, "rank"), lambda: {d: n for n, d in enumerate(_order(entry, request.sort))})
    matches &= rank.keys()  # the meta entry has no rank
    return len(matches), heapq.nsmallest(request.offset + request.limit, matches, key=rank.__getitem__)


def _matches(entry: _SharedSearcher, text: Query | None, request: SearchRequest) -> list[int]:
    """Every document matching ``text`` (every one when None) and ``request``'s arch and os filters."""
    if text is None:
        return _ordered_docs(entry, request)
    check_expansions(text, entry.searcher.reader())
    allowed = _filter_set(entry, request)
    found = entry.searcher.docs_for_query(text)
    return [d for d in found if d in allowed] if allowed is not None else list(found)


def _without_filter(request: SearchRequest, facet: str) -> SearchRequest:
    """``request`` without the filter on ``facet``: the parameter, or the conditions naming it."""
    if facet == "arch":
        return replace(request, arch=None)
    if facet == "os":
        return replace(request, os=None)

    def names_facet(condition: Expression) -> bool:
        if isinstance(condition, Exact):
            return condition.field == facet
        return isinstance(condition, KeyValue) and condition.field == facet

    return replace(request, conditions=tuple(c for c in request.conditions if not names_facet(c)))


def _sorted_by(searcher: Any, order: str) -> list[int]:
    reader = searcher.reader()
    if reader.doc_count_all() == 0:  # no segments: Whoosh's empty reader has no columns
        return []
    # Whole columns, read segment by segment: per-document lookups cost ~20x more.
    names = list(reader.column_reader("repository", translate=False))
    excluded = {searcher.document_number(id=META_ID)} | _deleted(reader)
    live = [docnum for docnum in range(len(names)) if docnum not in excluded]
    if order == "name":
        registries = list(reader.column_reader("registry", translate=False))
        return sorted(live, key=lambda docnum: (names[docnum], registries[docnum]))
    column = list(reader.column_reader("pushed" if order == "updated" else "pulls", translate=False))
    return sorted(live, key=lambda docnum: (-column[docnum], names[docnum]))


def _deleted(reader: Any) -> set[int]:
    return {offset + docnum for leaf, offset in reader.leaf_readers() for docnum in leaf.segment().deleted_docs()}


def _page(entry: _SharedSearcher, docnums: list[int], request: SearchRequest, total: int | None = None) -> SearchPage:
    """The page ``request`` asks for of ``docnums`` (all matches, or the first ones of ``total``)."""
    page = docnums[request.offset : request.offset + request.limit]
    documents = tuple(entry.document(docnum) for docnum in page)
    return SearchPage(len(docnums) if total is None else total, documents)


def _repository_query(name: str, registry: str | None) -> Query:
    terms = [Term("repository", name)]
    if registry is not None:
        terms.append(Term("registry", registry))
    return And(terms)


class _Batch:
    """The writes of one :meth:`SearchIndex.apply`, and which indexes they touched.

    Deletes find documents with ``searchers`` that read the commit each
    writer started from: Whoosh's ``delete_by_term`` would open a reader of
    every segment per commit instead, and a new document needs no delete.
    """

    def __init__(self, writers: dict[Kind, Any], searchers: dict[Kind, Any]) -> None:
        self._writers = writers
        self._searchers = searchers
        self.touched: set[Kind] = set()

    def replace(self, doc_id: str, doc: Document | None) -> None:
        """Replace ``doc_id`` in the index of its kind by ``doc`` (delete only, for a tombstone)."""
        kinds = _kinds_of_id(doc_id) if doc is None else (_kind_of(doc),)
        for kind in kinds:
            self._delete(kind, doc_id)
        if doc is not None:
            self._writers[kinds[0]].add_document(**document_fields(doc))
            self.touched.add(kinds[0])

    def _delete(self, kind: Kind, doc_id: str) -> None:
        writer, searcher = self._writers[kind], self._searchers[kind]
        if searcher.reader().generation() != writer.generation - 1:  # not the writer's starting commit
            writer.delete_by_term("id", doc_id)
            self.touched.add(kind)
            return
        for docnum in searcher.document_numbers(id=doc_id):
            writer.delete_document(docnum)
            self.touched.add(kind)


def _kind_of(doc: Document) -> Kind:
    return "tag" if isinstance(doc, TagDocument) else "repository"


def _kinds_of_id(doc_id: str) -> tuple[Kind, ...]:
    if doc_id.startswith("tag:"):
        return ("tag",)
    if doc_id.startswith("repo:"):
        return ("repository",)
    return KINDS


def _cancel_if_open(writer: Any) -> None:
    if not writer.is_closed:
        writer.cancel()


def _last_change_per_id(changes: Sequence[tuple[str, Document | None]]) -> dict[str, Document | None]:
    latest: dict[str, Document | None] = {}
    for doc_id, doc in changes:
        if doc is not None and doc.doc_id != doc_id:
            raise ValueError(f"change key {doc_id!r} is not the document's id {doc.doc_id!r}")
        latest[doc_id] = doc
    return latest


def _newest_first(tags: list[TagDocument]) -> tuple[TagDocument, ...]:
    by_name = sorted(tags, key=lambda t: t.tag)
    return tuple(sorted(by_name, key=_pushed_key, reverse=True))


def _pushed_key(tag: TagDocument) -> datetime:
    return parse_time(tag.pushed) or datetime.min


def _layout(path: Path) -> str | None:
    try:
        return (path / LAYOUT_FILE).read_text()
    except FileNotFoundError:
        return None


def _clear(path: Path) -> None:
    """Remove the index files of any layout from ``path``, and nothing else."""
    for child in path.iterdir():
        if child.is_dir() and child.name in DIRECTORIES.values():
            shutil.rmtree(child)
        elif child.name.startswith(_OLD_FILE_PREFIXES) or child.name == LAYOUT_FILE:
            child.unlink()


def _write_layout(path: Path) -> None:
    temporary = path / (LAYOUT_FILE + ".tmp")
    temporary.write_text(LAYOUT)
    temporary.replace(path / LAYOUT_FILE)


def _open_or_create(path: Path, kind: Kind) -> Any:
    path.mkdir(exist_ok=True)
    storage = MappedFileStorage(str(path))
    if whoosh_index.exists_in(str(path)):
        return FileIndex(storage)
    return FileIndex.create(storage, build_schema(kind), whoosh_index._DEF_INDEX_NAME)
