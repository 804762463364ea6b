"""Suggestions as you type: repository names, then ``repository:tag``, most pulled first.

A prefix matches a repository name from its start or from the start of its
last path segment (``ngi`` suggests ``library/nginx``), case-insensitively;
a prefix with ``:`` completes the tags of the repository before it, newest
push first. The lookup is a binary search in a sorted list of keys built once
per searcher, so a suggestion costs a few microseconds plus its matches.
Only ``indexer/index.py`` uses this module.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from whoosh.query import Term

from indexer.schema import META_ID



MOST_SUGGESTIONS = 50  # the largest limit a caller may ask for
# a prefix of more names than this has its ranking kept per searcher (see SearchIndex.suggest)
KEEP_RANKING_FROM = 500


@dataclass(frozen=True)
class Suggestion:
    """One completion: a repository name or ``repository:tag``, with its repository's pulls."""

    text: str
    kind: Literal["repository", "tag"]
    pulls: int


@dataclass(frozen=True)
class NameKeys:
    """Every repository of one searcher, findable by name prefix."""

    keys: list[tuple[str, int]]  # (lower-case name or last segment, docnum), sorted
    names: list[str]  # by docnum
    pulls: list[int]  # by docnum
    by_name: dict[str, int]  # lower-case name -> docnum
    # by docnum, its place among live repositories most pulled first, then by name: ranking a
    # prefix's thousands of matches is then one C-level key lookup each
    rank: list[int] = field(default_factory=list)

    @classmethod
    def read(cls, searcher: Any) -> NameKeys:
        """The keys of the repository index behind ``searcher``; read whole columns once."""
        reader = searcher.reader()
        if reader.doc_count_all() == 0:
            return cls([], [], [], {})
        names = list(reader.column_reader("repository"))
        pulls = list(reader.column_reader("pulls", translate=False))
        excluded = {searcher.document_number(id=META_ID)}
        excluded |= {offset + d for leaf, offset in reader.leaf_readers() for d in leaf.segment().deleted_docs()}
        keys: list[tuple[str, int]] = []
        by_name: dict[str, int] = {}
        for docnum, name in enumerate(names):
            if docnum in excluded or not name:
                continue
            by_name[name.lower()] = docnum
            keys += ((key, docnum) for key in _keys(name))
        keys.sort()
        rank = [len(names)] * len(names)
        for place, docnum in enumerate(sorted(by_name.values(), key=lambda d: (-pulls[d], names[d]))):
            rank[docnum] = place
        return cls(keys, names, pulls, by_name, rank)

    def count(self, prefix: str) -> int:
        """How many keys start with ``prefix`` (a name can have two: itself and its last segment)."""
        start, end = self._range(prefix.lower())
        return end - start

    def _range(self, prefix: str) -> tuple[int, int]:
        return bisect_left(self.keys, (prefix, -1)), bisect_left(self.keys, (prefix + "\U0010ffff", -1))

    def repositories(self, prefix: str, limit: int, allows: Callable[[str], bool] | None = None) -> list[Suggestion]:
        """The ``limit`` most pulled repositories whose name or last segment starts with ``prefix``
        (of those ``allows`` accepts, when given)."""
        start, end = self._range(prefix.lower())
        found = {docnum for _, docnum in self.keys[start:end]}
        if allows is not None:
            found = {docnum for docnum in found if allows(self.names[docnum])}
        best = heapq.nsmallest(limit, found, key=self.rank.__getitem__)
        return [Suggestion(self.names[d], "repository", self.pulls[d]) for d in best]


def segment_name_keys(reader: Any) -> list[tuple[str, int]]:
    """One segment's (lower-case name or last segment, segment document number), sorted.

    Per segment, so a commit costs only its new segment's keys; deleted
    documents stay in (callers only look up documents that matched).
    """
    if reader.doc_count_all() == 0 or not reader.has_column("repository"):
        return []
    keys = [(key, docnum) for docnum, name in enumerate(reader.column_reader("repository")) if name for key in _keys(name)]
    keys.sort()
    return keys


def _keys(name: str) -> tuple[str, ...]:
    """What a name prefix is looked up by: the lower-case name, and its last segment when that differs."""
    lower = name.lower()
    last = lower.rsplit("/", 1)[-1]
    return (lower,) if last == lower else (lower, last)


def starting_with(keys: list[tuple[str, int]], prefix: str) -> list[int]:
    """The document numbers in ``keys`` (see :func:`segment_name_keys`) whose key starts with ``prefix``."""
    start = bisect_left(keys, (prefix, -1))
    end = bisect_left(keys, (prefix + "\U0010ffff", -1))
    return [docnum for _, docnum in keys[start:end]]


def tag_suggestions(keys: NameKeys, tag_searcher: Any, prefix: str, limit: int) -> list[Suggestion]:
    """``repository:tag`` for the tags of the repository named before the ``:`` in ``prefix``,
    those starting with what follows it, newest push first."""
    repository, _, tag_prefix = prefix.partition(":")
    docnum = keys.by_name.get(repository.lower())
    if docnum is None:
        return []
    name, pulls = keys.names[docnum], keys.pulls[docnum]
    reader = tag_searcher.reader()
    if reader.doc_count_all() == 0:
        return []
    pushed = reader.column_reader("pushed", translate=False)
    found = []
    for tag_docnum in tag_searcher.docs_for_query(Term("repository", name)):
        tag = tag_searcher.stored_fields(tag_docnum)["id"].rsplit(":", 1)[-1]  # tag:registry/repository:tag
        if tag.lower().startswith(tag_prefix.lower()):
            found.append((-pushed[tag_docnum], tag))
    return [Suggestion(f"{name}:{tag}", "tag", pulls) for _, tag in heapq.nsmallest(limit, found)]
