"""Push small OCI images straight through the registry's HTTP API, fast enough for load.

Every image has two layers: a base layer shared by all repositories (mounted
from a seed repository, so it is stored once) and a small layer of its own
repository, uploaded once per repository. Each tag gets its own config blob
(platform, labels) and manifest. skopeo would spend ~100 ms per copy on
process start; here a push is a handful of keep-alive requests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
SEED_REPOSITORY = "bench/base"
REQUEST_TIMEOUT_S = 30
ARCHITECTURES = ("amd64", "arm64")


@dataclass(frozen=True)
class Blob:
    """Bytes and the descriptor that names them."""

    data: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


@dataclass(frozen=True)
class Layer:
    """A gzip layer and the digest of its uncompressed tar (the config's diff id)."""

    blob: Blob
    diff_id: str


@dataclass(frozen=True)
class RepositorySpec:
    """One repository to push: its name, the words that describe it, and its tags."""

    name: str
    title: str
    description: str
    tags: tuple[str, ...]


class RegistryPusher:
    """Pushes ``RepositorySpec``s to the registry at ``url``; safe to share between threads."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._local = threading.local()
        self.base = make_layer("base", b"the shared base layer of every benchmark image\n" * 64)

    def seed(self) -> None:
        """Store the shared base layer once, in ``SEED_REPOSITORY``, for every push to mount."""
        self._upload(SEED_REPOSITORY, self.base.blob)

    def push(self, spec: RepositorySpec) -> list[float]:
        """Push every tag of ``spec`` in order; the ``time.monotonic()`` each manifest PUT returned."""
        own = make_layer(spec.name, f"{spec.name}\n{spec.description}\n".encode())
        self._mount(spec.name, self.base.blob)
        self._upload(spec.name, own.blob)
        return [self._push_tag(spec, tag, number, (self.base, own)) for number, tag in enumerate(spec.tags)]

    def _push_tag(self, spec: RepositorySpec, tag: str, number: int, layers: Sequence[Layer]) -> float:
        config = Blob(canonical(image_config(spec, tag, ARCHITECTURES[number % 2], layers)), OCI_CONFIG)
        self._upload(spec.name, config)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": [layer.blob.descriptor() for layer in layers],
        }
        response = self._session().put(
            f"{self.url}/v2/{spec.name}/manifests/{tag}", data=canonical(manifest),
            headers={"Content-Type": OCI_MANIFEST}, timeout=REQUEST_TIMEOUT_S,
        )
        returned = time.monotonic()
        _expect(response, 201)
        return returned

    def _mount(self, repository: str, blob: Blob) -> None:
        response = self._session().post(
            f"{self.url}/v2/{repository}/blobs/uploads/",
            params={"mount": blob.digest, "from": SEED_REPOSITORY}, timeout=REQUEST_TIMEOUT_S,
        )
        if response.status_code != 201:  # not mountable: the registry opened an upload instead
            _expect(response, 202)
            self._finish_upload(response.headers["Location"], blob)

    def _upload(self, repository: str, blob: Blob) -> None:
        response = self._session().post(f"{self.url}/v2/{repository}/blobs/uploads/", timeout=REQUEST_TIMEOUT_S)
        _expect(response, 202)
        self._finish_upload(response.headers["Location"], blob)

    def _finish_upload(self, location: str, blob: Blob) -> None:
        url = location if location.startswith("http") else self.url + location
        response = self._session().put(
            url, params={"digest": blob.digest}, data=blob.data,
            headers={"Content-Type": "application/octet-stream"}, timeout=REQUEST_TIMEOUT_S,
        )
        _expect(response, 201)

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session


def make_layer(name: str, content: bytes) -> Layer:
    """A one-file gzip tar layer holding ``content``; deterministic for the same inputs."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(f"{name.replace('/', '_')}.txt")
        info.size, info.mode, info.mtime = len(content), 0o644, 0
        tar.addfile(info, io.BytesIO(content))
    tar_bytes = buffer.getvalue()
    diff_id = "sha256:" + hashlib.sha256(tar_bytes).hexdigest()
    return Layer(Blob(gzip.compress(tar_bytes, mtime=0), OCI_LAYER), diff_id)


def image_config(spec: RepositorySpec, tag: str, architecture: str, layers: Sequence[Layer]) -> dict[str, Any]:
    """An OCI image config for ``spec:tag`` with the OCI title, description and version labels."""
    labels = {
        "org.opencontainers.image.title": spec.title,
        "org.opencontainers.image.description": spec.description,
        "org.opencontainers.image.version": tag,
    }
    return {
        "created": "2024-01-01T00:00:00Z",
        "architecture": architecture,
        "os": "linux",
        "config": {"Labels": labels, "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created_by": f"benchmark layer {n}"} for n in range(len(layers))],
    }


def canonical(data: dict[str, Any]) -> bytes:
    """Compact JSON with sorted keys: the bytes whose sha256 is the digest."""
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _expect(response: requests.Response, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.url} answered {response.status_code}, "
            f"expected {status}: {response.text[:500]}"
        )
