"""Turning parsed images into tag and repository documents (pure).

Image metadata follows one rule: first found wins, in source order
(manifest or index annotations, then config labels; for an index, the
index's annotations, then each platform image's annotations and labels in
index order), and within one source the ``org.opencontainers.image.*`` key
before its older ``org.label-schema.*`` twin. Blank values and ``created``
values that are not timestamps count as not found.

Times in documents are ISO 8601 UTC, ``YYYY-MM-DDTHH:MM:SSZ``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timezone

from indexer.documents import Platform, RepositoryDocument, TagDocument
from indexer.manifests import (
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    parse_config,
    parse_manifest,
)
from indexer.registry import FetchedManifest, InvalidContent

_OCI = "org.opencontainers.image."
_LABEL_SCHEMA = "org.label-schema."

# field -> keys in precedence order. label-schema usage is a link to usage
# instructions, the nearest OCI key is documentation.
_KEYS: dict[str, tuple[str, ...]] = {
    "title": (_OCI + "title", _LABEL_SCHEMA + "name"),
    "description": (_OCI + "description", _LABEL_SCHEMA + "description"),
    "version": (_OCI + "version", _LABEL_SCHEMA + "version"),
    "created": (_OCI + "created", _LABEL_SCHEMA + "build-date"),
    "authors": (_OCI + "authors",),
    "url": (_OCI + "url", _LABEL_SCHEMA + "url"),
    "documentation": (_OCI + "documentation", _LABEL_SCHEMA + "usage"),
    "source": (_OCI + "source", _LABEL_SCHEMA + "vcs-url"),
    "revision": (_OCI + "revision", _LABEL_SCHEMA + "vcs-ref"),
    "vendor": (_OCI + "vendor", _LABEL_SCHEMA + "vendor"),
    "licenses": (_OCI + "licenses", _LABEL_SCHEMA + "license"),
    "base_name": (_OCI + "base.name",),
    "base_digest": (_OCI + "base.digest",),
}

_EARLIEST_YEAR = 1970  # Go's zero time (year 1) means "unset", not a date


@dataclass(frozen=True)
class ImageMetadata:
    """Descriptive metadata of an image; None where no source has a value."""

    title: str | None = None
    description: str | None = None
    version: str | None = None
    created: str | None = None
    authors: str | None = None
    url: str | None = None
    documentation: str | None = None
    source: str | None = None
    revision: str | None = None
    vendor: str | None = None
    licenses: str | None = None
    base_name: str | None = None
    base_digest: str | None = None


@dataclass(frozen=True)
class _Image:
    """One platform image with its config, as fetched."""

    digest: str
    body_size: int
    manifest: ImageManifest
    config: ImageConfig

    @property
    def total_size(self) -> int:
        return self.body_size + self.manifest.config.size + sum(
            layer.size for layer in self.manifest.layers
        )


def image_metadata(annotations: Mapping[str, str], labels: Mapping[str, str]) -> ImageMetadata:
    """Metadata of one image: annotations win over labels."""
    return metadata_from_sources((annotations, labels))


def metadata_from_sources(sources: Iterable[Mapping[str, str]]) -> ImageMetadata:
    """Metadata where, per field, the first source holding a value wins."""
    sources = tuple(sources)
    values = {f.name: _first_value(sources, _KEYS[f.name], f.name) for f in fields(ImageMetadata)}
    return ImageMetadata(**values)


def utc_timestamp(value: str | None) -> str | None:
    """``value`` as ``YYYY-MM-DDTHH:MM:SSZ``, or None when it is no usable time.

    Naive times are taken as UTC; fractions of a second are dropped.
    """
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.year < _EARLIEST_YEAR:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_tag_document(
    *,
    registry: str,
    repository: str,
    tag: str,
    root: FetchedManifest,
    children: Mapping[str, FetchedManifest],
    configs: Mapping[str, bytes],
    pushed: str,
) -> TagDocument:
    """The document of ``repository:tag`` whose manifest is ``root``.

    ``children`` must hold every platform image of an index by digest
    (``ImageIndex.images``) and ``configs`` every image config blob by
    digest; a missing one is the caller's bug (``ValueError``). Malformed
    content raises ``InvalidContent``. ``pushed`` is normalised to UTC
    seconds when it parses as a time, kept as given otherwise.

    For an index: platforms come from the index entries (falling back to the
    image's config), size is the index body plus every image's total (blobs
    shared between images count once per image), ``labels`` are those of
    the first platform image, ``annotations`` the index's own.
    """
    parsed = parse_manifest(root)
    if isinstance(parsed, ImageIndex):
        return _index_document(registry, repository, tag, root, parsed, children, configs, pushed)
    image = _Image(root.digest, len(root.body), parsed, _config_for(parsed, configs))
    metadata = image_metadata(parsed.annotations, image.config.labels)
    return TagDocument(
        registry=registry,
        repository=repository,
        tag=tag,
        digest=root.digest,
        media_type=parsed.media_type,
        platforms=_sorted_unique(p for p in (image.config.platform,) if p),
        size=image.total_size,
        created=metadata.created or utc_timestamp(image.config.created),
        pushed=utc_timestamp(pushed) or pushed,
        labels=dict(image.config.labels),
        annotations=dict(parsed.annotations),
        title=metadata.title,
        description=metadata.description,
        layers=tuple(layer.digest for layer in parsed.layers),
        configs=(parsed.config.digest,),
    )


def _index_document(
    registry: str,
    repository: str,
    tag: str,
    root: FetchedManifest,
    index: ImageIndex,
    children: Mapping[str, FetchedManifest],
    configs: Mapping[str, bytes],
    pushed: str,
) -> TagDocument:
    entries = index.images
    images = [_load_image(_child(entry, children), configs) for entry in entries]
    metadata = metadata_from_sources(_index_sources(index, images))
    return TagDocument(
        registry=registry,
        repository=repository,
        tag=tag,
        digest=root.digest,
        media_type=index.media_type,
        platforms=_sorted_unique(_index_platforms(entries, images)),
        size=len(root.body) + sum(image.total_size for image in images),
        created=metadata.created or _first_created(images),
        pushed=utc_timestamp(pushed) or pushed,
        labels=dict(images[0].config.labels) if images else {},
        annotations=dict(index.annotations),
        title=metadata.title,
        description=metadata.description,
        layers=_unique(layer.digest for image in images for layer in image.manifest.layers),
        configs=_unique(image.manifest.config.digest for image in images),
        children=tuple(entry.digest for entry in entries),
        platform_layers={
            str(platform): tuple(layer.digest for layer in image.manifest.layers)
            for platform, image in zip(_index_platform_each(entries, images), images)
            if platform is not None
        },
    )


def _child(entry: Descriptor, children: Mapping[str, FetchedManifest]) -> FetchedManifest:
    try:
        return children[entry.digest]
    except KeyError:
        raise ValueError(f"child manifest {entry.digest} was not supplied") from None


def _load_image(fetched: FetchedManifest, configs: Mapping[str, bytes]) -> _Image:
    parsed = parse_manifest(fetched)
    if isinstance(parsed, ImageIndex):
        raise InvalidContent(f"index entry {fetched.digest} is itself an index")
    return _Image(fetched.digest, len(fetched.body), parsed, _config_for(parsed, configs))


def _config_for(manifest: ImageManifest, configs: Mapping[str, bytes]) -> ImageConfig:
    """The parsed image config; empty for artifacts, whose config is not read."""
    if not manifest.has_image_config:
        return ImageConfig()
    try:
        raw = configs[manifest.config.digest]
    except KeyError:
        raise ValueError(f"config blob {manifest.config.digest} was not supplied") from None
    return parse_config(raw)


def _index_sources(index: ImageIndex, images: Sequence[_Image]) -> list[Mapping[str, str]]:
    sources: list[Mapping[str, str]] = [index.annotations]
    for image in images:
        sources += [image.manifest.annotations, image.config.labels]
    return sources


def _index_platforms(entries: Sequence[Descriptor], images: Sequence[_Image]) -> list[Platform]:
    return [p for p in _index_platform_each(entries, images) if p is not None]


def _index_platform_each(entries: Sequence[Descriptor], images: Sequence[_Image]) -> list[Platform | None]:
    """Each child's platform, from the index entry or else its config; None where neither says."""
    return [entry.platform or image.config.platform for entry, image in zip(entries, images)]


def _first_created(images: Sequence[_Image]) -> str | None:
    return next(
        (c for c in (utc_timestamp(i.config.created) for i in images) if c), None
    )


def build_repository_document(
    registry: str, name: str, tags: Sequence[TagDocument], pulls: int
) -> RepositoryDocument:
    """Summarise the tag documents of one repository.

    Title, description and labels come from the first tag that has them,
    trying ``latest`` first, then tags from the most recently pushed.
    ``pushed`` is the latest push; ``size`` is the largest tag's size (a sum
    would count layers shared between tags many times).
    """
    preferred = _by_preference(tags)
    newest = _newest(tags)
    return RepositoryDocument(
        registry=registry,
        name=name,
        tags=tuple(sorted({t.tag for t in tags})),
        platforms=_sorted_unique(p for t in tags for p in t.platforms),
        title=next((t.title for t in preferred if t.title), None),
        description=next((t.description for t in preferred if t.description), None),
        labels=dict(next((t.labels for t in preferred if t.labels), {})),
        pushed=newest.pushed if newest else None,
        size=max((t.size for t in tags), default=0),
        pulls=pulls,
    )


def _by_preference(tags: Sequence[TagDocument]) -> list[TagDocument]:
    by_push = sorted(tags, key=lambda t: (_push_key(t), t.tag), reverse=True)
    return sorted(by_push, key=lambda t: t.tag != "latest")


def _newest(tags: Sequence[TagDocument]) -> TagDocument | None:
    pushed = [t for t in tags if _push_key(t)]
    return max(pushed, key=_push_key, default=None)


def _push_key(tag: TagDocument) -> str:
    return utc_timestamp(tag.pushed) or ""


def _first_value(sources: Sequence[Mapping[str, str]], keys: Sequence[str], name: str) -> str | None:
    for source in sources:
        for key in keys:
            value = source.get(key, "").strip()
            if name == "created":
                value = utc_timestamp(value) or ""
            if value:
                return value
    return None


def _sorted_unique(platforms: Iterable[Platform]) -> tuple[Platform, ...]:
    return tuple(sorted(set(platforms)))


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
