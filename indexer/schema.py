"""The Whoosh schemas of the search index, and how a document fills them.

Only ``indexer/index.py`` uses this module; nothing else imports whoosh.

Repository and tag documents live in two Whoosh indexes with one schema each
(:func:`build_schema` of their kind), so a repository search scans only
repository documents. The repository index also holds the one entry that
records the applied document-log positions (:data:`META_ID`).

Fields:

- ``id`` — the document id (unique).
- ``registry``, ``repository`` — exact values, for lookups and sorting.
- ``name`` — the words of the repository path (split on ``/ - _ .``, lower
  case): ``library/nginx-proxy`` matches ``library``, ``nginx`` and ``proxy``.
  Boosted: a name match outranks a match of the same word in ``text``.
- ``name_full``, ``name_last``, ``last_words`` — the whole repository name,
  its last path segment, and that segment's words, lower case: the ranking
  tiers (a query equal to the name first, then a match in the last segment,
  then a prefix of the name or of its last segment).
- ``text`` — every other searchable word, stemmed: tags (each tag whole and
  split into its words, as names are), title, description, and the label
  and annotation values. One field, so a query word is one posting list
  here instead of an OR over several fields.
- ``arch``, ``os`` — platform keywords for filters; ``arch`` holds both
  ``arm`` and ``arm/v7`` for a variant.
- ``namespace`` — every path prefix of the repository name (``a``, ``a/b``
  for ``a/b/c``), lower case: ``namespace:`` in the query language.
- ``tag`` — the tag names (a repository's all, a tag's own), lower case.
- ``label``, ``annotation`` — one term per key and one per ``key=value``,
  lower case (tag documents only: a repository matches through its tags).
- ``digest`` — on tag documents, every digest the tag refers to (manifest,
  index children, configs, layers), as ``algorithm:hex`` and as ``hex``
  (for hex-prefix lookups).
- ``signed`` — on tag documents, ``true`` or ``false``.
- ``pushed`` — a sortable column only (see :func:`pushed_key`).
- ``pushed_at`` — the same number, indexed for ``pushed:`` ranges.
- ``pulls`` — a sortable column only: a repository's pull count (0 on tags).
- ``document`` — the document as JSON, so results return exactly it.
- ``positions`` — on the meta entry only: the applied positions as JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from whoosh.analysis import Analyzer, LowercaseFilter, RegexTokenizer, StemmingAnalyzer
from whoosh.columns import NumericColumn
from whoosh.fields import COLUMN, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

from indexer.documents import (
    Document,
    Platform,
    RepositoryDocument,
    TagDocument,
    document_to_json,
)

Kind = Literal["repository", "tag"]
META_ID = "meta:applied-positions"
SEARCHABLE_FIELDS = ("name", "text")
NAME_BOOST = 3.0

# Letters and digits only: "_" counts as a separator, as in repository names.
_WORD_PATTERN = r"[^\W_]+"
_WORDS = re.compile(_WORD_PATTERN)
_TEXT_PATTERN = r"\w+(\.?\w+)*"
_EPOCH = datetime(1970, 1, 1)
_OLDEST = (datetime.min - _EPOCH) // timedelta(microseconds=1)


def _name_analyzer() -> Analyzer:
    return RegexTokenizer(_WORD_PATTERN) | LowercaseFilter()


def _text_analyzer() -> Analyzer:
    # No stem cache: whoosh's cache is not thread-safe and queries are
    # analysed on several server threads at once. No stop list: every
    # query word must match, so a dropped stop word must not vanish silently.
    return StemmingAnalyzer(expression=_TEXT_PATTERN, stoplist=None, minsize=1, cachesize=None)


def _line_analyzer() -> Analyzer:
    """One term per line, lower case: label and annotation entries keep their spaces."""
    return RegexTokenizer(r"[^\n]+") | LowercaseFilter()


def build_schema(kind: Kind) -> Schema:
    """The schema the index of ``kind`` documents is created with."""
    fields: dict[str, Any] = {
        "id": ID(unique=True, stored=True),
        "registry": ID(stored=True, sortable=True),
        "repository": ID(stored=True, sortable=True),
        "name": TEXT(analyzer=_name_analyzer(), phrase=False, field_boost=NAME_BOOST),
        "name_full": KEYWORD(lowercase=True),
        "name_last": KEYWORD(lowercase=True),
        "last_words": TEXT(analyzer=_name_analyzer(), phrase=False),
        "text": TEXT(analyzer=_text_analyzer(), phrase=True),  # positions: "quoted phrases"
        "arch": KEYWORD(lowercase=True),
        "os": KEYWORD(lowercase=True),
        "namespace": KEYWORD(lowercase=True),
        "tag": KEYWORD(lowercase=True),
        "label": TEXT(analyzer=_line_analyzer(), phrase=False),
        "annotation": TEXT(analyzer=_line_analyzer(), phrase=False),
        "digest": KEYWORD(lowercase=True),
        "signed": KEYWORD(lowercase=True),
        "pushed_at": NUMERIC(numtype=int, bits=64, signed=True),
        # A column only: sorted on, never searched, so no terms to write and merge.
        "pushed": COLUMN(NumericColumn("q", default=0)),
        "pulls": COLUMN(NumericColumn("q", default=0)),
        "document": STORED,
    }
    if kind == "repository":
        fields["positions"] = STORED
    return Schema(**fields)


def document_fields(doc: Document) -> dict[str, Any]:
    """The field values that index ``doc`` in the index of its kind; ``document`` holds its JSON."""
    return {
        "id": doc.doc_id,
        "registry": doc.registry,
        "document": document_to_json(doc).decode(),
        "pushed": pushed_key(doc.pushed),
        "pushed_at": pushed_key(doc.pushed),
        "pulls": doc.pulls if isinstance(doc, RepositoryDocument) else 0,
        **_platform_fields(doc.platforms),
        **_kind_fields(doc),
    }


def meta_fields(positions: Mapping[int, int]) -> dict[str, Any]:
    """The field values of the entry that records the applied positions."""
    return {"id": META_ID, "positions": json.dumps({str(p): o for p, o in positions.items()})}


def positions_from_meta(stored: Mapping[str, Any] | None) -> dict[int, int]:
    """The positions a meta entry recorded; empty for a new index."""
    if not stored:
        return {}
    return {int(p): int(o) for p, o in json.loads(stored["positions"]).items()}


def pushed_key(value: str | None) -> int:
    """A push time as the sortable number in ``pushed``: microseconds since 1970.

    A missing or unreadable time would sort first in "newest first": make it the oldest.
    """
    parsed = parse_time(value)
    if parsed is None:
        return _OLDEST
    return (parsed - _EPOCH) // timedelta(microseconds=1)


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
            "text": _text(doc, (doc.tag,), doc.labels, doc.annotations),
            "tag": doc.tag,
            "label": _entries(doc.labels),
            "annotation": _entries(doc.annotations),
            "digest": _digests(doc.digest, *doc.children, *doc.configs, *doc.layers),
            "signed": "true" if doc.signed else "false",
        }
    return _repository_document_fields(doc)


def _repository_document_fields(doc: RepositoryDocument) -> dict[str, Any]:
    return {
        **_repository_fields(doc.name),
        "text": _text(doc, doc.tags, doc.labels),
        "tag": " ".join(doc.tags),
    }


def _repository_fields(repository: str) -> dict[str, Any]:
    return {"repository": repository, "name": repository, "name_full": repository,
            "name_last": repository.rsplit("/", 1)[-1], "last_words": repository.rsplit("/", 1)[-1],
            "namespace": " ".join(namespaces(repository))}


def namespaces(repository: str) -> list[str]:
    """The namespaces ``repository`` is in: each path prefix, ``a`` and ``a/b`` for ``a/b/c``."""
    parts = repository.split("/")[:-1]
    return ["/".join(parts[: n + 1]) for n in range(len(parts))]


def label_entry(key: str, value: str | None = None) -> str:
    """The ``label``/``annotation`` term of a key (present) or of a key holding ``value``."""
    entry = key if value is None else f"{key}={value}"
    return " ".join(entry.lower().split())  # one line; runs of white space as one space


def _entries(mapping: Mapping[str, str]) -> str:
    return "\n".join(entry for key, value in mapping.items() for entry in (label_entry(key), label_entry(key, value)))


def _digests(*digests: str) -> str:
    """Each digest whole and as its hex alone; keyword fields split on spaces, which digests never hold."""
    return " ".join(dict.fromkeys(part for digest in digests if digest for part in (digest, digest.partition(":")[2])))


def _text(doc: Document, tags: tuple[str, ...], *mappings: dict[str, str]) -> str:
    """Tags (whole, then split into name words), title, description and values, one per line.

    A value repeated (labels often repeat the title and description) is written once.
    """
    tag_words = [f"{tag} {' '.join(_WORDS.findall(tag))}" for tag in tags]
    values = [doc.title or "", doc.description or "", *(v for mapping in mappings for v in mapping.values())]
    return "\n".join([*tag_words, *dict.fromkeys(values)])


def _platform_fields(platforms: tuple[Platform, ...]) -> dict[str, str]:
    arches = {p.architecture for p in platforms if p.architecture}
    arches |= {f"{p.architecture}/{p.variant}" for p in platforms if p.architecture and p.variant}
    oses = {p.os for p in platforms if p.os}
    # Keyword fields split on spaces; platform values never contain one.
    return {"arch": " ".join(sorted(arches)), "os": " ".join(sorted(oses))}
