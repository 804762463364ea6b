from __future__ import annotations

import json
from typing import Any

import pytest

from indexer.documents import Platform
from indexer.manifests import (
    DOCKER_CONFIG,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    DOCKER_SCHEMA1_SIGNED,
    OCI_INDEX,
    OCI_MANIFEST,
    ImageIndex,
    ImageManifest,
    parse_config,
    parse_manifest,
)
from indexer.registry import FetchedManifest, InvalidContent
from tests.indexer.fake_registry import (
    attestation_entry,
    digest_of,
    image_config,
    image_manifest,
    layer_digest,
)

CONFIG = digest_of(b"config")


def fetched(body: dict[str, Any] | bytes, content_type: str = OCI_MANIFEST) -> FetchedManifest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return FetchedManifest(digest=digest_of(raw), media_type=content_type, body=raw)


def oci_manifest(**changes: Any) -> dict[str, Any]:
    manifest = image_manifest(
        CONFIG,
        1469,
        layers=[(layer_digest("a"), 3_623_807), (layer_digest("b"), 512)],
        annotations={"org.opencontainers.image.title": "alpine"},
    )
    manifest.update(changes)
    return manifest


def test_oci_manifest_with_annotations() -> None:
    parsed = parse_manifest(fetched(oci_manifest()))
    assert isinstance(parsed, ImageManifest)
    assert parsed.media_type == OCI_MANIFEST
    assert parsed.config.digest == CONFIG and parsed.config.size == 1469
    assert [layer.size for layer in parsed.layers] == [3_623_807, 512]
    assert parsed.layers[0].digest == layer_digest("a")
    assert parsed.annotations == {"org.opencontainers.image.title": "alpine"}
    assert parsed.has_image_config


def test_docker_schema2_manifest() -> None:
    body = image_manifest(CONFIG, 7023, layers=[(layer_digest("x"), 100)], docker=True)
    parsed = parse_manifest(fetched(body, DOCKER_MANIFEST))
    assert isinstance(parsed, ImageManifest)
    assert parsed.media_type == DOCKER_MANIFEST
    assert parsed.config.media_type == DOCKER_CONFIG
    assert parsed.annotations == {}


def test_oci_index_skips_attestations_from_images() -> None:
    amd, arm, att = digest_of(b"amd"), digest_of(b"arm"), digest_of(b"att")
    att_platform, att_annotations = attestation_entry(amd)
    body = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": amd, "size": 1, "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": OCI_MANIFEST, "digest": arm, "size": 2,
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"mediaType": OCI_MANIFEST, "digest": att, "size": 3,
             "platform": dict(att_platform), "annotations": dict(att_annotations)},
        ],
        "annotations": {"org.opencontainers.image.description": "multi"},
    }
    parsed = parse_manifest(fetched(body, OCI_INDEX))
    assert isinstance(parsed, ImageIndex)
    assert len(parsed.manifests) == 3
    assert [d.digest for d in parsed.images] == [amd, arm]
    assert parsed.images[1].platform == Platform("linux", "arm64", "v8")
    assert parsed.manifests[2].is_attestation
    assert parsed.annotations == {"org.opencontainers.image.description": "multi"}


def test_attestation_recognised_by_annotation_alone() -> None:
    entry = {"mediaType": OCI_MANIFEST, "digest": digest_of(b"a"), "size": 1,
             "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}
    parsed = parse_manifest(fetched({"schemaVersion": 2, "manifests": [entry]}, OCI_INDEX))
    assert isinstance(parsed, ImageIndex)
    assert parsed.images == ()


def test_nested_index_entries_are_not_images() -> None:
    entry = {"mediaType": OCI_INDEX, "digest": digest_of(b"nested"), "size": 10}
    parsed = parse_manifest(fetched({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}))
    assert isinstance(parsed, ImageIndex)
    assert parsed.images == ()


def test_docker_manifest_list_with_arm_v7() -> None:
    body = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST_LIST,
        "manifests": [
            {"mediaType": DOCKER_MANIFEST, "digest": digest_of(b"v7"), "size": 528,
             "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}},
        ],
    }
    parsed = parse_manifest(fetched(body, DOCKER_MANIFEST_LIST))
    assert isinstance(parsed, ImageIndex)
    assert parsed.media_type == DOCKER_MANIFEST_LIST
    assert parsed.images[0].platform == Platform("linux", "arm", "v7")


def test_missing_media_type_uses_content_type() -> None:
    body = oci_manifest()
    del body["mediaType"]
    parsed = parse_manifest(fetched(body, "application/vnd.oci.image.manifest.v1+json; charset=utf-8"))
    assert isinstance(parsed, ImageManifest)
    assert parsed.media_type == OCI_MANIFEST


def test_body_media_type_wins_over_content_type() -> None:
    body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    assert isinstance(parse_manifest(fetched(body, "application/json")), ImageIndex)


def test_oci_artifact_is_a_manifest_without_image_config() -> None:
    body = image_manifest(CONFIG, 2, layers=[(layer_digest("chart"), 3000)],
                          config_media_type="application/vnd.cncf.helm.config.v1+json")
    parsed = parse_manifest(fetched(body))
    assert isinstance(parsed, ImageManifest)
    assert not parsed.has_image_config


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"{not json", OCI_MANIFEST),
        (b"\xff\xfe", OCI_MANIFEST),
        (b"[1, 2]", OCI_MANIFEST),
        ({"schemaVersion": 1, "name": "x", "tag": "1", "fsLayers": []}, DOCKER_SCHEMA1_SIGNED),
        ({"schemaVersion": 2, "mediaType": "application/vnd.oci.artifact.manifest.v1+json",
          "blobs": []}, OCI_MANIFEST),
        ({"schemaVersion": 2, "config": {}, "layers": []}, "application/json"),
        ({"mediaType": OCI_MANIFEST, "config": {}, "layers": []}, OCI_MANIFEST),
    ],
    ids=["malformed", "not-utf8", "array", "schema1", "artifact-manifest", "unknown-type", "no-schema-version"],
)
def test_unusable_documents_are_invalid(body: dict[str, Any] | bytes, content_type: str) -> None:
    with pytest.raises(InvalidContent):
        parse_manifest(fetched(body, content_type))


@pytest.mark.parametrize(
    "change",
    [
        {"layers": None},
        {"layers": {"0": "x"}},
        {"config": None},
        {"config": {"mediaType": DOCKER_CONFIG, "digest": CONFIG}},
        {"config": {"mediaType": DOCKER_CONFIG, "digest": CONFIG, "size": "12"}},
        {"config": {"mediaType": DOCKER_CONFIG, "digest": CONFIG, "size": True}},
        {"config": {"mediaType": DOCKER_CONFIG, "digest": CONFIG, "size": -1}},
        {"config": {"mediaType": DOCKER_CONFIG, "digest": "not a digest", "size": 1}},
        {"config": {"digest": CONFIG, "size": 1}},
        {"layers": ["sha256:abc"]},
        {"annotations": ["a"]},
        {"annotations": {"a": 1}},
        {"mediaType": 5},
    ],
    ids=lambda change: ",".join(f"{k}={v!r}" for k, v in change.items())[:40],
)
def test_wrong_fields_are_invalid(change: dict[str, Any]) -> None:
    body = oci_manifest(**change)
    with pytest.raises(InvalidContent):
        parse_manifest(fetched(body))


def test_missing_layers_is_invalid() -> None:
    body = oci_manifest()
    del body["layers"]
    with pytest.raises(InvalidContent, match="layers"):
        parse_manifest(fetched(body))


@pytest.mark.parametrize(
    "entry",
    [
        {"mediaType": OCI_MANIFEST, "digest": digest_of(b"a"), "size": 1, "platform": "linux/amd64"},
        {"mediaType": OCI_MANIFEST, "digest": digest_of(b"a"), "size": 1, "platform": {"os": "linux"}},
        "sha256:abc",
    ],
)
def test_bad_index_entries_are_invalid(entry: Any) -> None:
    body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}
    with pytest.raises(InvalidContent):
        parse_manifest(fetched(body))


def test_index_without_manifests_is_invalid() -> None:
    with pytest.raises(InvalidContent, match="manifests"):
        parse_manifest(fetched({"schemaVersion": 2, "mediaType": OCI_INDEX}))


def test_null_annotations_are_empty() -> None:
    parsed = parse_manifest(fetched(oci_manifest(annotations=None)))
    assert parsed.annotations == {}


def test_config_fields() -> None:
    raw = json.dumps(image_config("linux", "arm", variant="v7", labels={"maintainer": "me"})).encode()
    config = parse_config(raw)
    assert config.platform == Platform("linux", "arm", "v7")
    assert config.created == "2024-05-01T10:00:00.123456789Z"
    assert config.labels == {"maintainer": "me"}


def test_config_with_null_labels() -> None:
    config = parse_config(json.dumps(image_config(labels_null=True)).encode())
    assert config.labels == {}
    assert config.platform == Platform("linux", "amd64")


def test_config_without_container_config_or_platform() -> None:
    config = parse_config(b'{"rootfs": {"type": "layers", "diff_ids": []}}')
    assert config.labels == {}
    assert config.platform is None
    assert config.created is None


@pytest.mark.parametrize(
    "raw",
    [b"nope", b'"string"', b'{"os": 1}', b'{"config": []}', b'{"config": {"Labels": {"a": 1}}}',
     b'{"config": {"Labels": ["a"]}}'],
)
def test_bad_configs_are_invalid(raw: bytes) -> None:
    with pytest.raises(InvalidContent):
        parse_config(raw)
