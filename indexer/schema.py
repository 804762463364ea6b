"""The Whoosh schema of the search index, and how a document fills it.

Only ``indexer/index.py`` uses this module; nothing else imports whoosh.

Fields (one index holds three kinds of entries, told apart by ``kind``):

- ``id`` — the document id (unique); ``kind`` — ``repository``, ``tag`` or
  ``meta`` (the one entry that records the applied document-log positions).
- ``registry``, ``repository`` — exact values, for lookups and sorting.
- ``name`` — the words of the repository path (split on ``/ - _ .``, lower
  case): ``library/nginx-proxy`` matches ``library``, ``nginx`` and ``proxy``.
- ``name_key`` — the whole repository name and its last path segment, lower
  case; a query equal to one of them ranks first.
- ``tag`` — the words of the tag (of every tag, on a repository document).
- ``title``, ``description``, ``labels`` — stemmed text; ``labels`` holds the
  label and annotation values.
- ``arch``, ``os`` — platform keywords for filters; ``arch`` holds both
  ``arm`` and ``arm/v7`` for a variant.
- ``pushed`` (sortable date), ``pulls`` (sortable number).
- ``document`` — the document as JSON, so results return exactly it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from whoosh.analysis import Analyzer, LowercaseFilter, RegexTokenizer, StemmingAnalyzer
from whoosh.fields import DATETIME, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

from indexer.documents import (
    Document,
    Platform,
    RepositoryDocument,
    TagDocument,
    document_to_json,
)

META_ID = "meta:applied-positions"
SEARCHABLE_FIELDS = ("name", "tag", "title", "description", "labels")

# Letters and digits only: "_" counts as a separator, as in repository names.
_WORD_PATTERN = r"[^\W_]+"
_TEXT_PATTERN = r"\w+(\.?\w+)*"


def _name_analyzer() -> Analyzer:
    return RegexTokenizer(_WORD_PATTERN) | LowercaseFilter()


def _text_analyzer() -> Analyzer:
    # No stem cache: whoosh's cache is not thread-safe and queries are
    # analysed on several server threads at once. No stop list: every
    # query word must match, so a dropped stop word must not vanish silently.
    return StemmingAnalyzer(expression=_TEXT_PATTERN, stoplist=None, minsize=1, cachesize=None)


def build_schema() -> Schema:
    """The schema every index directory is created with."""
    return Schema(
        id=ID(unique=True, stored=True),
        kind=ID,
        registry=ID(stored=True, sortable=True),
        repository=ID(stored=True, sortable=True),
        name=TEXT(analyzer=_name_analyzer(), phrase=False, field_boost=3.0),
        name_key=KEYWORD(lowercase=True),
        tag=TEXT(analyzer=_name_analyzer(), phrase=False, field_boost=1.5),
        title=TEXT(analyzer=_text_analyzer(), phrase=False, field_boost=2.0),
        description=TEXT(analyzer=_text_analyzer(), phrase=False),
        labels=TEXT(analyzer=_text_analyzer(), phrase=False, field_boost=0.5),
        arch=KEYWORD(lowercase=True),
        os=KEYWORD(lowercase=True),
        pushed=DATETIME(sortable=True),
        pulls=NUMERIC(bits=64, sortable=True),
        document=STORED,
        positions=STORED,
    )


def document_fields(doc: Document) -> dict[str, Any]:
    """The field values that index ``doc``; ``document`` holds its JSON."""
    return {
        "id": doc.doc_id,
        "kind": doc.kind,
        "registry": doc.registry,
        "title": doc.title or "",
        "description": doc.description or "",
        "document": document_to_json(doc).decode(),
        # A missing time would sort first in "newest first": make it the oldest.
        "pushed": parse_time(doc.pushed) or datetime.min,
        **_platform_fields(doc.platforms),
        **_kind_fields(doc),
    }


def meta_fields(positions: Mapping[int, int]) -> dict[str, Any]:
    """The field values of the entry that records the applied positions."""
    return {"id": META_ID, "kind": "meta", "positions": json.dumps({str(p): o for p, o in positions.items()})}


def positions_from_meta(stored: Mapping[str, Any] | None) -> dict[int, int]:
    """The positions a meta entry recorded; empty for a new index."""
    if not stored:
        return {}
    return {int(p): int(o) for p, o in json.loads(stored["positions"]).items()}


def name_keys(repository: str) -> str:
    """The exact-match keys of a repository name: itself and its last segment."""
    return f"{repository} {repository.rsplit('/', 1)[-1]}"


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time as naive UTC (whoosh drops time zones); None if unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def _kind_fields(doc: Document) -> dict[str, Any]:
    if isinstance(doc, TagDocument):
        return {
            **_repository_fields(doc.repository),
            "tag": doc.tag,
            "labels": _values_text(doc.labels, doc.annotations),
            "pulls": 0,
        }
    return _repository_document_fields(doc)


def _repository_document_fields(doc: RepositoryDocument) -> dict[str, Any]:
    return {
        **_repository_fields(doc.name),
        "tag": " ".join(doc.tags),
        "labels": _values_text(doc.labels),
        "pulls": doc.pulls,
    }


def _repository_fields(repository: str) -> dict[str, Any]:
    return {"repository": repository, "name": repository, "name_key": name_keys(repository)}


def _values_text(*mappings: dict[str, str]) -> str:
    return "\n".join(value for mapping in mappings for value in mapping.values())


def _platform_fields(platforms: tuple[Platform, ...]) -> dict[str, str]:
    arches = {p.architecture for p in platforms if p.architecture}
    arches |= {f"{p.architecture}/{p.variant}" for p in platforms if p.architecture and p.variant}
    oses = {p.os for p in platforms if p.os}
    # Keyword fields split on spaces; platform values never contain one.
    return {"arch": " ".join(sorted(arches)), "os": " ".join(sorted(oses))}
