"""An in-memory registry that satisfies ``indexer.fetch.ManifestSource``.

Content is stored by its real sha256, so digests in tests are the digests a
registry would compute. Builders produce realistic OCI and Docker manifests.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from indexer.manifests import (
    DOCKER_CONFIG,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
)
from indexer.registry import FetchedManifest, NotFound, RegistryError

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def to_bytes(content: Mapping[str, Any] | bytes) -> bytes:
    return content if isinstance(content, bytes) else json.dumps(content, indent=3).encode()


class FakeRegistry:
    """Manifests, blobs and tags per repository; records every call made."""

    def __init__(self) -> None:
        self.manifests: dict[str, dict[str, tuple[str, bytes]]] = {}
        self.blobs: dict[str, dict[str, bytes]] = {}
        self.tag_map: dict[str, dict[str, str]] = {}
        self.failures: dict[tuple[str, str], RegistryError] = {}
        self.calls: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    # -- filling it ---------------------------------------------------------

    def put_blob(self, repository: str, content: Mapping[str, Any] | bytes) -> tuple[str, int]:
        """Store a blob; returns its digest and size."""
        body = to_bytes(content)
        digest = digest_of(body)
        self.blobs.setdefault(repository, {})[digest] = body
        return digest, len(body)

    def put_manifest(
        self,
        repository: str,
        content: Mapping[str, Any] | bytes,
        *,
        tag: str | None = None,
        content_type: str | None = None,
    ) -> str:
        """Store a manifest (tagged when ``tag``); returns its digest.

        The Content-Type served is ``content_type``, else the body's
        ``mediaType``.
        """
        body = to_bytes(content)
        if content_type is None:
            content_type = json.loads(body).get("mediaType", "application/json")
        digest = digest_of(body)
        self.manifests.setdefault(repository, {})[digest] = (content_type, body)
        if tag is not None:
            self.tag_map.setdefault(repository, {})[tag] = digest
        return digest

    def fail(self, repository: str, reference: str, error: RegistryError) -> None:
        """Make every call for ``reference`` (tag or digest) raise ``error``."""
        self.failures[(repository, reference)] = error

    # -- ManifestSource -----------------------------------------------------

    def tags(self, repository: str) -> list[str]:
        if repository not in self.tag_map:
            raise NotFound(f"repository {repository}")
        return sorted(self.tag_map[repository])

    def head_manifest(self, repository: str, reference: str) -> str:
        self._record("head_manifest", repository, reference)
        return self._resolve(repository, reference)

    def get_manifest(self, repository: str, reference: str) -> FetchedManifest:
        self._record("get_manifest", repository, reference)
        digest = self._resolve(repository, reference)
        content_type, body = self.manifests[repository][digest]
        return FetchedManifest(digest=digest, media_type=content_type, body=body)

    def get_blob(self, repository: str, digest: str, max_bytes: int = 8 * 1024 * 1024) -> bytes:
        self._record("get_blob", repository, digest)
        try:
            return self.blobs[repository][digest]
        except KeyError:
            raise NotFound(f"blob {repository}@{digest}") from None

    def _record(self, method: str, repository: str, reference: str) -> None:
        with self._lock:
            self.calls.append((method, repository, reference))
        if (repository, reference) in self.failures:
            raise self.failures[(repository, reference)]

    def _resolve(self, repository: str, reference: str) -> str:
        digest = self.tag_map.get(repository, {}).get(reference, reference)
        if digest not in self.manifests.get(repository, {}):
            raise NotFound(f"manifest {repository}:{reference}")
        return digest

    # -- realistic content --------------------------------------------------

    def push_image(
        self,
        repository: str,
        *,
        tag: str | None = None,
        config: Mapping[str, Any],
        layer_sizes: Sequence[int] = (1000,),
        annotations: Mapping[str, str] | None = None,
        docker: bool = False,
        layer_seed: str = "",
    ) -> str:
        """Store a config and a manifest that points at it and at layers."""
        config_digest, config_size = self.put_blob(repository, config)
        manifest = image_manifest(
            config_digest,
            config_size,
            layers=[(layer_digest(f"{layer_seed}{i}"), size) for i, size in enumerate(layer_sizes)],
            annotations=annotations,
            docker=docker,
        )
        return self.put_manifest(repository, manifest, tag=tag)

    def push_index(
        self,
        repository: str,
        entries: Sequence[tuple[str, Mapping[str, Any] | None, Mapping[str, str] | None]],
        *,
        tag: str | None = None,
        annotations: Mapping[str, str] | None = None,
        docker: bool = False,
    ) -> str:
        """Store an index over stored manifests: (digest, platform, annotations)."""
        descriptors = [
            self._entry(repository, digest, platform, entry_annotations)
            for digest, platform, entry_annotations in entries
        ]
        index: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST_LIST if docker else OCI_INDEX,
            "manifests": descriptors,
        }
        if annotations:
            index["annotations"] = dict(annotations)
        return self.put_manifest(repository, index, tag=tag)

    def _entry(
        self,
        repository: str,
        digest: str,
        platform: Mapping[str, Any] | None,
        annotations: Mapping[str, str] | None,
    ) -> dict[str, Any]:
        content_type, body = self.manifests[repository][digest]
        entry: dict[str, Any] = {"mediaType": content_type, "digest": digest, "size": len(body)}
        if platform is not None:
            entry["platform"] = dict(platform)
        if annotations:
            entry["annotations"] = dict(annotations)
        return entry


def layer_digest(seed: str) -> str:
    return digest_of(f"layer {seed}".encode())


def image_config(
    os: str = "linux",
    architecture: str = "amd64",
    *,
    variant: str | None = None,
    created: str | None = "2024-05-01T10:00:00.123456789Z",
    labels: Mapping[str, str] | None = None,
    labels_null: bool = False,
) -> dict[str, Any]:
    """An image config as BuildKit writes it (with history and rootfs)."""
    config: dict[str, Any] = {
        "architecture": architecture,
        "os": os,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/bin/sh"],
            "WorkingDir": "/",
            "Labels": None if labels_null else dict(labels or {}),
        },
        "rootfs": {"type": "layers", "diff_ids": [layer_digest("diff")]},
        "history": [{"created": created, "created_by": "ADD rootfs.tar.gz / # buildkit"}],
    }
    if variant is not None:
        config["variant"] = variant
    if created is not None:
        config["created"] = created
    return config


def image_manifest(
    config_digest: str,
    config_size: int,
    *,
    layers: Sequence[tuple[str, int]],
    annotations: Mapping[str, str] | None = None,
    docker: bool = False,
    config_media_type: str | None = None,
) -> dict[str, Any]:
    """An OCI image manifest, or a Docker schema 2 one when ``docker``."""
    layer_type = DOCKER_LAYER if docker else OCI_LAYER
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
        "config": {
            "mediaType": config_media_type or (DOCKER_CONFIG if docker else OCI_CONFIG),
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [{"mediaType": layer_type, "digest": d, "size": s} for d, s in layers],
    }
    if annotations:
        manifest["annotations"] = dict(annotations)
    return manifest


def attestation_manifest(registry: FakeRegistry, repository: str) -> str:
    """A BuildKit provenance attestation manifest (as docker buildx pushes it)."""
    config_digest, config_size = registry.put_blob(repository, {"architecture": "unknown", "os": "unknown"})
    manifest = image_manifest(
        config_digest,
        config_size,
        layers=[(layer_digest("provenance"), 1234)],
    )
    manifest["layers"][0]["mediaType"] = "application/vnd.in-toto+json"
    manifest["layers"][0]["annotations"] = {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}
    return registry.put_manifest(repository, manifest)


def attestation_entry(subject: str) -> tuple[Mapping[str, Any], Mapping[str, str]]:
    """The platform and annotations of an attestation's index entry."""
    return (
        {"architecture": "unknown", "os": "unknown"},
        {"vnd.docker.reference.digest": subject, "vnd.docker.reference.type": "attestation-manifest"},
    )
