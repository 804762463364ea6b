"""The search index: one Whoosh directory behind a small interface.

The index is a cache of the document log and can always be rebuilt from it.
Exactly one writer (the follower) calls :meth:`SearchIndex.apply`; any number
of threads may search at once, each with its own searcher that is refreshed
after a commit.

Query text is never parsed as syntax. It is split on white space into
chunks; each chunk is analysed with each searchable field's own analyzer,
and every chunk must match in at least one field (AND across chunks, OR
across fields). A chunk ending in ``*`` matches its last word as a prefix.
Quotes, colons, ``AND``, lone ``*`` and other punctuation are just text: a
chunk with no letters or digits is ignored, and a query with no words at all
selects by the filters alone, as an empty one does.

Ranking: a query equal to a whole repository name or to its last path
segment ranks that repository first; then BM25, with name matches boosted.
An empty query lists the newest pushes first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from whoosh import index as whoosh_index
from whoosh.query import And, AndMaybe, Every, Or, Prefix, Query, Term
from whoosh.sorting import FieldFacet, MultiFacet

from indexer.documents import Document, RepositoryDocument, TagDocument, document_from_json
from indexer.schema import (
    META_ID,
    SEARCHABLE_FIELDS,
    build_schema,
    document_fields,
    meta_fields,
    parse_time,
    positions_from_meta,
)
from regsearch.logs import Positions

EXACT_NAME_BOOST = 1000.0
_WRITER_TIMEOUT_SECONDS = 1.0
# How stale a thread's searcher may be when another process commits.
_REFRESH_SECONDS = 1.0
_SCHEMA = build_schema()
_NEWEST_FIRST = MultiFacet([FieldFacet("pushed", reverse=True), FieldFacet("repository")])


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
    arch: str | None = None
    os: str | None = None
    limit: int = 25
    offset: int = 0


@dataclass(frozen=True)
class SearchPage:
    """The documents of one page and the number of all matches."""

    total: int
    documents: tuple[Document, ...]


@dataclass(frozen=True)
class _ThreadSearcher:
    searcher: Any
    generation: int
    checked_at: float


class SearchIndex:
    """One directory; one writer (the follower). Thread-safe for searching."""

    def __init__(self, ix: Any, path: Path) -> None:
        self._ix = ix
        self._path = path
        self._lock = threading.Lock()
        self._generation = 0
        self._searchers: dict[int, _ThreadSearcher] = {}

    @classmethod
    def open(cls, path: Path) -> SearchIndex:
        """Open the index in ``path``, creating the directory and an empty index when missing."""
        path.mkdir(parents=True, exist_ok=True)
        if whoosh_index.exists_in(str(path)):
            ix = whoosh_index.open_dir(str(path))
        else:
            ix = whoosh_index.create_in(str(path), build_schema())
        return cls(ix, path)

    def applied_positions(self) -> dict[int, int]:
        """The document-log positions to resume from; empty for a new index.

        Committed in the same commit as the batch they follow, so after a
        crash the follower resumes exactly after the last durable batch.
        """
        return positions_from_meta(self._searcher().document(id=META_ID))

    def apply(self, changes: Sequence[tuple[str, Document | None]], positions: Positions) -> None:
        """Write one batch of document-log changes and the ``positions`` after it in one commit.

        ``changes`` are ``(doc_id, document)`` pairs in log order; ``None`` is a
        tombstone. Several changes to one id collapse to the last. The key must
        equal the document's ``doc_id`` (ValueError otherwise, before writing).
        Raises :class:`IndexLocked` when another writer holds the directory.
        Searches started after this returns see the batch.
        """
        latest = _last_change_per_id(changes)
        writer = self._writer()
        try:
            for doc_id, doc in latest.items():
                writer.delete_by_term("id", doc_id)
                if doc is not None:
                    writer.add_document(**document_fields(doc))
            writer.delete_by_term("id", META_ID)
            writer.add_document(**meta_fields(positions))
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        with self._lock:
            self._generation += 1

    def is_empty(self) -> bool:
        """True when the index holds no repository or tag document."""
        kinds = Or([Term("kind", "repository"), Term("kind", "tag")])
        return bool(self._searcher().search(kinds, limit=1).is_empty())

    def search(self, request: SearchRequest) -> SearchPage:
        """One page of documents of ``request.kind`` matching ``request``; never raises on odd text."""
        text = text_query(request.q)
        searcher = self._searcher()
        results = searcher.search(
            Every() if text is None else _ranked(text, request.q),
            filter=_filter(request),
            limit=request.offset + request.limit,
            sortedby=_NEWEST_FIRST if text is None else None,
        )
        page = results[request.offset : request.offset + request.limit]
        return SearchPage(len(results), tuple(document_from_json(hit["document"]) for hit in page))

    def repository(
        self, name: str, registry: str | None = None
    ) -> tuple[RepositoryDocument, tuple[TagDocument, ...]] | None:
        """The repository document ``name`` and its tags, newest push first; None when missing.

        Without ``registry``, the first registry (by name) holding ``name`` answers.
        """
        found = self._find(_repository_query(name, registry), sortedby="registry", limit=1)
        if not found:
            return None
        repo = found[0]
        assert isinstance(repo, RepositoryDocument)
        tags = self._find(
            And([Term("kind", "tag"), Term("repository", name), Term("registry", repo.registry)]),
            limit=None,
        )
        return repo, _newest_first([t for t in tags if isinstance(t, TagDocument)])

    def close(self) -> None:
        """Release every searcher and the index; the object is unusable afterwards."""
        with self._lock:
            searchers, self._searchers = list(self._searchers.values()), {}
        for entry in searchers:
            entry.searcher.close()
        self._ix.close()

    def _find(self, query: Query, **kwargs: Any) -> list[Document]:
        results = self._searcher().search(query, **kwargs)
        return [document_from_json(hit["document"]) for hit in results]

    def _writer(self) -> Any:
        try:
            return self._ix.writer(timeout=_WRITER_TIMEOUT_SECONDS)
        except whoosh_index.LockError as exc:
            raise IndexLocked(
                f"another process owns the index directory {self._path} (its write lock is held); "
                "each search replica needs its own index directory"
            ) from exc

    def _searcher(self) -> Any:
        """This thread's searcher, renewed after a local commit or, for another
        process's commits, at most ``_REFRESH_SECONDS`` late."""
        ident = threading.get_ident()
        now = time.monotonic()
        generation = self._generation
        entry = self._searchers.get(ident)
        if entry is not None and entry.generation == generation and now - entry.checked_at < _REFRESH_SECONDS:
            return entry.searcher
        searcher = self._renewed(entry.searcher if entry is not None else None)
        with self._lock:
            self._searchers[ident] = _ThreadSearcher(searcher, generation, now)
        return searcher

    def _renewed(self, searcher: Any) -> Any:
        """``searcher`` if it still reads the latest commit, else a new one.

        Not ``Searcher.refresh()``: in whoosh-reloaded 2.7.5 it keeps the
        segments a merge replaced, so deleted documents come back.
        """
        if searcher is not None:
            if searcher.reader().generation() == self._ix.latest_generation():
                return searcher
            searcher.close()
        return self._ix.searcher()


def text_query(q: str) -> Query | None:
    """The query for user text ``q``: every chunk must match some field; None without words."""
    chunks = [_chunk_query(chunk) for chunk in q.split()]
    clauses = [clause for clause in chunks if clause is not None]
    return And(clauses) if clauses else None


def _chunk_query(chunk: str) -> Query | None:
    prefix = chunk.endswith("*")
    per_field = [_field_query(field, chunk.rstrip("*"), prefix) for field in SEARCHABLE_FIELDS]
    matches = [clause for clause in per_field if clause is not None]
    return Or(matches) if matches else None


def _field_query(field: str, text: str, prefix: bool) -> Query | None:
    words = list(_SCHEMA[field].process_text(text, mode="query"))
    if not words:
        return None
    last = Prefix(field, words[-1]) if prefix else Term(field, words[-1])
    return And([Term(field, word) for word in words[:-1]] + [last])


def _ranked(text: Query, q: str) -> Query:
    """``text``, with documents whose name equals the whole query ranked first."""
    key = q.strip().rstrip("*").lower()
    if not key or any(ch.isspace() for ch in key):
        return text
    return AndMaybe(text, Term("name_key", key, boost=EXACT_NAME_BOOST))


def _filter(request: SearchRequest) -> Query:
    terms = [Term("kind", request.kind)]
    if request.arch:
        terms.append(Term("arch", request.arch.lower()))
    if request.os:
        terms.append(Term("os", request.os.lower()))
    return And(terms)


def _repository_query(name: str, registry: str | None) -> Query:
    terms = [Term("kind", "repository"), Term("repository", name)]
    if registry is not None:
        terms.append(Term("registry", registry))
    return And(terms)


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
