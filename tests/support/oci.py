"""OCI image layouts built in pure Python, pushed to a registry with skopeo.

``build_image`` writes a single-platform image and ``build_index`` a
multi-platform image index into an OCI layout directory (several tags may
share one directory). Layers are small deterministic gzip tars, so the same
inputs give the same digests. ``push`` copies a tag to a registry with
``skopeo copy`` (OCI as is, or converted to Docker schema 2 / manifest list
with ``format="v2s2"``); ``delete`` removes a manifest through the API.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import requests

from indexer.registry import MANIFEST_MEDIA_TYPES, Credentials
from indexer.registry_auth import pick_challenge

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"
SKOPEO_TIMEOUT = 120

Layer = bytes | Mapping[str, bytes]
"""One layer: the content of a single file, or file names to contents."""

DEFAULT_PLATFORMS: tuple[Mapping[str, str], ...] = (
    {"os": "linux", "architecture": "amd64"},
    {"os": "linux", "architecture": "arm64", "variant": "v8"},
)


@dataclass(frozen=True)
class BuiltImage:
    """What ``build_image``/``build_index`` wrote: the tag's manifest and its parts.

    For an index, ``children`` holds the platform manifests' digests and
    ``config_digest`` is ``None``.
    """

    path: Path
    tag: str
    digest: str
    media_type: str
    config_digest: str | None = None
    layer_digests: tuple[str, ...] = ()
    children: tuple[str, ...] = ()


def build_image(
    path: Path,
    *,
    tag: str = "latest",
    layers: Sequence[Layer] = (b"hello from regsearch\n",),
    config: Mapping[str, Any] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> BuiltImage:
    """Write a single-platform image tagged ``tag`` into the layout at ``path``.

    ``config`` keys ``os``, ``architecture``, ``variant``, ``labels``,
    ``env``, ``created`` and ``author`` become the OCI image config's fields;
    other keys are copied to its top level as given.
    """
    _init_layout(path)
    image = _write_image(path, layers, config or {}, annotations or {})
    _tag(path, tag, image.digest, image.media_type)
    return BuiltImage(path, tag, image.digest, image.media_type, image.config_digest, image.layer_digests)


def build_index(
    path: Path,
    *,
    tag: str = "latest",
    platforms: Sequence[Mapping[str, str]] = DEFAULT_PLATFORMS,
    annotations: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
) -> BuiltImage:
    """Write a multi-platform image index tagged ``tag`` into the layout at ``path``.

    Each platform (``os``, ``architecture``, optional ``variant``) gets its
    own image with one distinct layer; ``config`` is shared by all of them
    and ``annotations`` go on the index.
    """
    _init_layout(path)
    children = [_write_platform_image(path, platform, config or {}) for platform in platforms]
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [dict(child) for child in children],
    }
    if annotations:
        index["annotations"] = dict(annotations)
    descriptor = _write_blob(path, _canonical(index), OCI_INDEX)
    _tag(path, tag, descriptor["digest"], OCI_INDEX)
    digests = tuple(child["digest"] for child in children)
    return BuiltImage(path, tag, descriptor["digest"], OCI_INDEX, children=digests)


def push(
    layout_dir: Path,
    tag: str,
    dest: str,
    *,
    creds: Credentials | None = None,
    all_platforms: bool = False,
    format: Literal["oci", "v2s2"] = "oci",
) -> None:
    """Copy ``oci:<layout_dir>:<tag>`` to ``docker://<dest>`` over plain HTTP.

    ``dest`` is ``host:port/repository:tag``. ``all_platforms`` copies every
    image of an index (``--all``); otherwise skopeo picks the host's platform.
    """
    command = ["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false"]
    if all_platforms:
        command.append("--all")
    if format == "v2s2":
        command += ["--format", "v2s2"]
    if creds is not None:
        command += ["--dest-creds", f"{creds.username}:{creds.password}"]
    command += [f"oci:{layout_dir}:{tag}", f"docker://{dest}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=SKOPEO_TIMEOUT)
    if result.returncode != 0:
        raise RuntimeError(f"skopeo copy to {dest} failed ({result.returncode}):\n{result.stderr}")


def delete(registry_url: str, repo: str, reference: str, creds: Credentials | None = None) -> str:
    """Delete the manifest ``repo:reference`` points at; return its digest.

    Resolves a tag with HEAD, then deletes by digest, as ``docker`` clients
    do; every tag pointing at that manifest goes with it.
    """
    scope = f"repository:{repo}:pull,delete"
    base = f"{registry_url.rstrip('/')}/v2/{repo}/manifests"
    head = _call("HEAD", f"{base}/{reference}", creds, scope, {"Accept": ", ".join(MANIFEST_MEDIA_TYPES)})
    digest = head.headers["Docker-Content-Digest"]
    _call("DELETE", f"{base}/{digest}", creds, scope, {})
    return digest


class OciBuilder:
    """Builds layouts in fresh directories under ``root`` (one per call)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._count = 0

    def image(self, **kwargs: Any) -> BuiltImage:
        """``build_image`` into a new directory; keyword arguments as there."""
        return build_image(self._next_dir(), **kwargs)

    def index(self, **kwargs: Any) -> BuiltImage:
        """``build_index`` into a new directory; keyword arguments as there."""
        return build_index(self._next_dir(), **kwargs)

    def _next_dir(self) -> Path:
        self._count += 1
        return self.root / f"layout-{self._count}"


# -- layout internals --------------------------------------------------------


@dataclass(frozen=True)
class _Image:
    digest: str
    media_type: str
    size: int
    config_digest: str
    layer_digests: tuple[str, ...]


def _init_layout(path: Path) -> None:
    (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index_path = path / "index.json"
    if not index_path.exists():
        index_path.write_text(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}))


def _write_image(path: Path, layers: Sequence[Layer], config: Mapping[str, Any], annotations: Mapping[str, str]) -> _Image:
    tars = [_layer_tar(layer, number) for number, layer in enumerate(layers)]
    layer_descriptors = [_write_blob(path, gzip.compress(tar, mtime=0), OCI_LAYER_GZIP) for tar in tars]
    diff_ids = [_digest(tar) for tar in tars]
    config_descriptor = _write_blob(path, _canonical(_image_config(config, diff_ids)), OCI_CONFIG)
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_descriptor,
        "layers": layer_descriptors,
    }
    if annotations:
        manifest["annotations"] = dict(annotations)
    descriptor = _write_blob(path, _canonical(manifest), OCI_MANIFEST)
    layer_digests = tuple(d["digest"] for d in layer_descriptors)
    return _Image(descriptor["digest"], OCI_MANIFEST, descriptor["size"], config_descriptor["digest"], layer_digests)


def _write_platform_image(path: Path, platform: Mapping[str, str], config: Mapping[str, Any]) -> dict[str, Any]:
    """A child image for ``platform`` and its descriptor for the index."""
    name = "/".join(platform[k] for k in ("os", "architecture", "variant") if platform.get(k))
    image = _write_image(path, [f"built for {name}\n".encode()], {**config, **platform}, {})
    wanted = {k: platform[k] for k in ("os", "architecture", "variant") if platform.get(k)}
    return {"mediaType": image.media_type, "digest": image.digest, "size": image.size, "platform": wanted}


def _image_config(config: Mapping[str, Any], diff_ids: list[str]) -> dict[str, Any]:
    known = {"os", "architecture", "variant", "labels", "env", "created", "author"}
    result: dict[str, Any] = {
        "created": config.get("created", "2024-01-01T00:00:00Z"),
        "architecture": config.get("architecture", "amd64"),
        "os": config.get("os", "linux"),
        "config": {"Labels": dict(config.get("labels", {})), "Env": list(config.get("env", []))},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"regsearch test layer {n}"} for n in range(len(diff_ids))],
    }
    for key in ("variant", "author"):
        if config.get(key):
            result[key] = config[key]
    result.update({k: v for k, v in config.items() if k not in known})
    return result


def _layer_tar(layer: Layer, number: int) -> bytes:
    files = {f"layer-{number}.txt": layer} if isinstance(layer, bytes) else dict(layer)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, 0
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _tag(path: Path, tag: str, digest: str, media_type: str) -> None:
    """Point ``tag`` in the layout's ``index.json`` at the blob ``digest``."""
    index_path = path / "index.json"
    index = json.loads(index_path.read_text())
    kept = [m for m in index["manifests"] if m.get("annotations", {}).get(REF_NAME) != tag]
    size = (path / "blobs" / "sha256" / digest.split(":", 1)[1]).stat().st_size
    kept.append({"mediaType": media_type, "digest": digest, "size": size, "annotations": {REF_NAME: tag}})
    index["manifests"] = kept
    index_path.write_text(json.dumps(index, indent=2))


def _write_blob(path: Path, data: bytes, media_type: str) -> dict[str, Any]:
    digest = _digest(data)
    (path / "blobs" / "sha256" / digest.split(":", 1)[1]).write_bytes(data)
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


# -- authenticated calls for delete -------------------------------------------


def _call(method: str, url: str, creds: Credentials | None, scope: str, headers: dict[str, str]) -> requests.Response:
    """One API call, answering a Basic or Bearer challenge once if needed."""
    response = requests.request(method, url, headers=headers, timeout=10)
    if response.status_code == 401:
        authorization = _authorization(response.headers.get("WWW-Authenticate"), creds, scope)
        response = requests.request(method, url, headers={**headers, "Authorization": authorization}, timeout=10)
    response.raise_for_status()
    return response


def _authorization(header: str | None, creds: Credentials | None, scope: str) -> str:
    challenge = pick_challenge(header)
    if challenge is None or creds is None:
        raise RuntimeError(f"registry wants credentials ({header!r}) and none were given")
    basic = "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    if challenge.scheme == "basic":
        return basic
    params = {"service": challenge.service or "", "scope": scope}
    answer = requests.get(challenge.realm, params=params, headers={"Authorization": basic}, timeout=10)
    answer.raise_for_status()
    return "Bearer " + str(answer.json()["token"])
