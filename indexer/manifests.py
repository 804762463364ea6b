"""The image formats the indexer reads: manifests, indexes and image configs.

Parsing is pure and strict about structure: anything that is not a usable
OCI or Docker schema 2 document raises ``InvalidContent`` (the event goes to
the dead-letter log), never ``KeyError`` or ``TypeError``.

Supported: OCI image index and manifest, Docker manifest list and schema 2
manifest. Docker schema 1 (signed or not) and any other media type are
rejected. OCI *artifacts* (an OCI manifest whose config is not an image
config, e.g. a Helm chart or a signature) parse as ``ImageManifest``; they
simply have no platform, because only image configs are read for one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from indexer.documents import Platform
from indexer.registry import FetchedManifest, InvalidContent

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"

INDEX_TYPES: frozenset[str] = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_MANIFEST_TYPES: frozenset[str] = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
IMAGE_CONFIG_TYPES: frozenset[str] = frozenset({OCI_CONFIG, DOCKER_CONFIG})

ATTESTATION_ANNOTATION = "vnd.docker.reference.type"
ATTESTATION_TYPE = "attestation-manifest"

_T = TypeVar("_T")

_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


@dataclass(frozen=True)
class Descriptor:
    """A pointer to content by digest; ``platform`` only in index entries."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def is_attestation(self) -> bool:
        """True for BuildKit provenance/SBOM entries, which are not images."""
        if self.annotations.get(ATTESTATION_ANNOTATION) == ATTESTATION_TYPE:
            return True
        return self.platform is not None and (
            self.platform.os,
            self.platform.architecture,
        ) == ("unknown", "unknown")


@dataclass(frozen=True)
class ImageManifest:
    """One image (or OCI artifact): a config and its layers."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def has_image_config(self) -> bool:
        """False for artifacts, whose config says nothing about a platform."""
        return self.config.media_type in IMAGE_CONFIG_TYPES


@dataclass(frozen=True)
class ImageIndex:
    """A multi-platform image: entries pointing at other manifests."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def images(self) -> tuple[Descriptor, ...]:
        """The entries that are platform images, in index order.

        Attestations and entries that are not image manifests (nested
        indexes, artifacts of other types) are left out: they are neither
        fetched nor counted.
        """
        return tuple(
            d for d in self.manifests
            if not d.is_attestation and d.media_type in IMAGE_MANIFEST_TYPES
        )


@dataclass(frozen=True)
class ImageConfig:
    """What the indexer reads from an image config blob."""

    os: str = ""
    architecture: str = ""
    variant: str = ""
    created: str | None = None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def platform(self) -> Platform | None:
        """The image's platform, or None when the config names none."""
        if not (self.os and self.architecture):
            return None
        return Platform(self.os, self.architecture, self.variant)


def parse_manifest(fetched: FetchedManifest) -> ImageManifest | ImageIndex:
    """Parse a fetched manifest or index.

    The media type is the body's ``mediaType``; when the body has none, the
    Content-Type the registry sent (``fetched.media_type``) is used.
    Raises ``InvalidContent`` for anything malformed or unsupported.
    """
    body = _load_object(fetched.body, f"manifest {fetched.digest}")
    media_type = _media_type(body, fetched.media_type)
    if body.get("schemaVersion") != 2:
        raise InvalidContent(
            f"manifest {fetched.digest}: schemaVersion {body.get('schemaVersion')!r}"
            " is not supported (only schema 2)"
        )
    if media_type in INDEX_TYPES:
        return _parse_index(body, media_type)
    if media_type in IMAGE_MANIFEST_TYPES:
        return _parse_image_manifest(body, media_type)
    raise InvalidContent(f"manifest {fetched.digest}: unsupported media type {media_type!r}")


def parse_config(raw: bytes) -> ImageConfig:
    """Parse an image config blob (OCI or Docker); only the fields we index.

    ``config.Labels`` may be missing or null. Raises ``InvalidContent``
    when the blob is not a JSON object or a field has the wrong type.
    """
    body = _load_object(raw, "image config")
    container = _optional(body, "config", dict) or {}
    return ImageConfig(
        os=_optional(body, "os", str) or "",
        architecture=_optional(body, "architecture", str) or "",
        variant=_optional(body, "variant", str) or "",
        created=_optional(body, "created", str),
        labels=_string_map(container.get("Labels"), "config.Labels"),
    )


def _load_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidContent(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidContent(f"{what} is not a JSON object")
    return body


def _media_type(body: Mapping[str, Any], content_type: str) -> str:
    declared = _optional(body, "mediaType", str)
    if declared:
        return declared
    return content_type.split(";", 1)[0].strip().lower()


def _parse_image_manifest(body: Mapping[str, Any], media_type: str) -> ImageManifest:
    return ImageManifest(
        media_type=media_type,
        config=_descriptor(_required(body, "config", dict), "config"),
        layers=tuple(
            _descriptor(item, f"layers[{i}]")
            for i, item in enumerate(_required(body, "layers", list))
        ),
        annotations=_string_map(body.get("annotations"), "annotations"),
    )


def _parse_index(body: Mapping[str, Any], media_type: str) -> ImageIndex:
    return ImageIndex(
        media_type=media_type,
        manifests=tuple(
            _descriptor(item, f"manifests[{i}]")
            for i, item in enumerate(_required(body, "manifests", list))
        ),
        annotations=_string_map(body.get("annotations"), "annotations"),
    )


def _descriptor(raw: Any, where: str) -> Descriptor:
    if not isinstance(raw, dict):
        raise InvalidContent(f"{where} is not an object")
    digest = _required(raw, "digest", str, where)
    if not _DIGEST.match(digest):
        raise InvalidContent(f"{where}.digest {digest!r} is not a digest")
    size = _required(raw, "size", int, where)
    if isinstance(size, bool) or size < 0:
        raise InvalidContent(f"{where}.size {size!r} is not a byte count")
    return Descriptor(
        media_type=_required(raw, "mediaType", str, where),
        digest=digest,
        size=size,
        platform=_platform(raw.get("platform"), where),
        annotations=_string_map(raw.get("annotations"), f"{where}.annotations"),
    )


def _platform(raw: Any, where: str) -> Platform | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidContent(f"{where}.platform is not an object")
    return Platform(
        os=_required(raw, "os", str, f"{where}.platform"),
        architecture=_required(raw, "architecture", str, f"{where}.platform"),
        variant=_optional(raw, "variant", str) or "",
    )


def _required(obj: Mapping[str, Any], key: str, kind: type[_T], where: str = "manifest") -> _T:
    if key not in obj:
        raise InvalidContent(f"{where}: missing {key!r}")
    value = obj[key]
    if not isinstance(value, kind):
        raise InvalidContent(f"{where}.{key} is not a {kind.__name__}")
    return value


def _optional(obj: Mapping[str, Any], key: str, kind: type[_T]) -> _T | None:
    """The value, or None when missing or null; a wrong type is invalid."""
    value = obj.get(key)
    if value is not None and not isinstance(value, kind):
        raise InvalidContent(f"{key!r} is not a {kind.__name__}")
    return value


def _string_map(raw: Any, where: str) -> dict[str, str]:
    """A string-to-string map; missing or null is empty."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise InvalidContent(f"{where} is not a map of strings")
    return dict(raw)
