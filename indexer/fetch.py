"""Fetching everything one tag document needs, through a manifest source.

No HTTP here: the source (the registry client, or an in-memory fake in
tests) does the talking and verifies digests. Errors from the source
propagate unchanged, so the caller's error policy applies as is:

    NotFound        -- the tag (or something it points at) is gone
    TransientError  -- try again later
    InvalidContent  -- the content is unusable (also raised for malformed JSON)
    Unauthorized    -- the credentials are wrong
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from typing import Protocol, TypeVar

from indexer.documents import TagDocument
from indexer.manifests import ImageIndex, ImageManifest, parse_manifest
from indexer.metadata import build_tag_document
from indexer.registry import FetchedManifest, NotFound

_In = TypeVar("_In")
_Out = TypeVar("_Out")


class ManifestSource(Protocol):
    """The part of the registry client that documents are built from."""

    def head_manifest(self, repository: str, reference: str) -> str:
        """The digest ``reference`` (tag or digest) resolves to now."""
        ...

    def get_manifest(self, repository: str, reference: str) -> FetchedManifest:
        """The manifest ``reference`` resolves to, its digest verified."""
        ...

    def get_blob(self, repository: str, digest: str, max_bytes: int = ...) -> bytes:
        """The blob ``digest``, its sha256 verified."""
        ...


def fetch_tag_document(
    source: ManifestSource,
    registry: str,
    repository: str,
    tag: str,
    *,
    pushed: str,
    known_digest: str | None = None,
    executor: Executor | None = None,
) -> TagDocument:
    """The current document of ``repository:tag``.

    Fetches the manifest, then (for an index) every platform image by
    digest, then every image config. ``known_digest`` is the digest the
    caller just got from HEAD: the manifest is then fetched by that digest,
    so the document describes exactly what HEAD reported; if that digest is
    gone meanwhile, the tag is fetched instead. With an ``executor``,
    children and configs are fetched concurrently; it must not be the
    bounded pool this call itself runs on, or the nested tasks can starve.
    """
    root = _fetch_root(source, repository, tag, known_digest)
    children = _fetch_children(source, repository, root, executor)
    manifests = [root, *children.values()]
    configs = _fetch_configs(source, repository, manifests, executor)
    return build_tag_document(
        registry=registry,
        repository=repository,
        tag=tag,
        root=root,
        children=children,
        configs=configs,
        pushed=pushed,
    )


def _fetch_root(
    source: ManifestSource, repository: str, tag: str, known_digest: str | None
) -> FetchedManifest:
    if known_digest is None:
        return source.get_manifest(repository, tag)
    try:
        return source.get_manifest(repository, known_digest)
    except NotFound:
        return source.get_manifest(repository, tag)


def _fetch_children(
    source: ManifestSource, repository: str, root: FetchedManifest, executor: Executor | None
) -> dict[str, FetchedManifest]:
    parsed = parse_manifest(root)
    if not isinstance(parsed, ImageIndex):
        return {}
    digests = list(dict.fromkeys(entry.digest for entry in parsed.images))
    fetched = map_on(executor, lambda d: source.get_manifest(repository, d), digests)
    return dict(zip(digests, fetched))


def _fetch_configs(
    source: ManifestSource,
    repository: str,
    manifests: Iterable[FetchedManifest],
    executor: Executor | None,
) -> dict[str, bytes]:
    digests = list(dict.fromkeys(_image_config_digests(manifests)))
    blobs = map_on(executor, lambda d: source.get_blob(repository, d), digests)
    return dict(zip(digests, blobs))


def _image_config_digests(manifests: Iterable[FetchedManifest]) -> Iterator[str]:
    for fetched in manifests:
        parsed = parse_manifest(fetched)
        if isinstance(parsed, ImageManifest) and parsed.has_image_config:
            yield parsed.config.digest


def map_on(executor: Executor | None, fn: Callable[[_In], _Out], items: list[_In]) -> list[_Out]:
    """``fn`` over ``items`` in order; the first error raised propagates."""
    if executor is None or len(items) < 2:
        return [fn(item) for item in items]
    return list(executor.map(fn, items))
