"""The documents the indexer writes and the search index serves.

Plain frozen data. A tag document describes one ``repository:tag`` as the
registry holds it now; a repository document aggregates the tag documents of
one repository. Both travel on the document log as JSON keyed by ``doc_id``;
a ``None`` value on that log is a tombstone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True, order=True)
class Platform:
    """An OCI platform; ``variant`` is empty when the image names none."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        tail = f"/{self.variant}" if self.variant else ""
        return f"{self.os}/{self.architecture}{tail}"


@dataclass(frozen=True)
class TagDocument:
    """One tag as the registry serves it; times are ISO 8601 UTC strings."""

    registry: str
    repository: str
    tag: str
    digest: str
    media_type: str
    platforms: tuple[Platform, ...] = ()
    size: int = 0
    created: str | None = None
    pushed: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    title: str | None = None
    description: str | None = None
    layers: tuple[str, ...] = ()
    configs: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    # For an index: each platform's ("linux/arm64/v8") layers in order; ``layers`` holds them all, once.
    platform_layers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The repository holds a signature for ``digest`` (see indexer.signatures).
    signed: bool = False

    kind = "tag"

    @property
    def doc_id(self) -> str:
        return tag_doc_id(self.registry, self.repository, self.tag)


@dataclass(frozen=True)
class RepositoryDocument:
    """A repository and a summary of its tags, for repository-level search."""

    registry: str
    name: str
    tags: tuple[str, ...] = ()
    platforms: tuple[Platform, ...] = ()
    title: str | None = None
    description: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    pushed: str | None = None
    size: int = 0
    pulls: int = 0
    # Pulls on the last 7 and 30 days when the document was built, and per tag (indexer.popularity).
    pulls_7d: int = 0
    pulls_30d: int = 0
    tag_pulls: dict[str, int] = field(default_factory=dict)

    kind = "repository"

    @property
    def doc_id(self) -> str:
        return repository_doc_id(self.registry, self.name)


Document = TagDocument | RepositoryDocument
_FIELD_NAMES = {kind.kind: tuple(f.name for f in fields(kind)) for kind in (TagDocument, RepositoryDocument)}


def tag_doc_id(registry: str, repository: str, tag: str) -> str:
    return f"tag:{registry}/{repository}:{tag}"


def repository_doc_id(registry: str, repository: str) -> str:
    return f"repo:{registry}/{repository}"


def document_to_dict(doc: Document) -> dict[str, Any]:
    """A JSON-ready dict with ``kind``; platforms become objects.

    Not ``dataclasses.asdict``: it deep-copies every value, and at 0.35 ms a
    document it was a third of a search answer's time. Every field value is
    immutable (strings, numbers, tuples of strings) but the dicts, which are
    copied one level, all their values being immutable too.
    """
    data = {name: _copied(getattr(doc, name)) for name in _FIELD_NAMES[doc.kind]}
    data["kind"] = doc.kind
    data["platforms"] = [{"os": p.os, "architecture": p.architecture, "variant": p.variant} for p in doc.platforms]
    return data


def _copied(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else value


def document_to_json(doc: Document) -> bytes:
    return json.dumps(document_to_dict(doc), separators=(",", ":"), sort_keys=True).encode()


def document_from_dict(data: dict[str, Any]) -> Document:
    data = dict(data)
    kind = data.pop("kind")
    data["platforms"] = tuple(Platform(**p) for p in data.get("platforms", ()))
    if kind == "tag":
        for name in ("layers", "configs", "children"):
            data[name] = tuple(data.get(name, ()))
        data["platform_layers"] = {p: tuple(layers) for p, layers in data.get("platform_layers", {}).items()}
        return TagDocument(**data)
    if kind == "repository":
        data["tags"] = tuple(data.get("tags", ()))
        return RepositoryDocument(**data)
    raise ValueError(f"unknown document kind {kind!r}")


def document_from_json(raw: bytes | str) -> Document:
    return document_from_dict(json.loads(raw))
