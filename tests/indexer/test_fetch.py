from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from indexer.documents import Platform
from indexer.fetch import ManifestSource, fetch_tag_document
from indexer.manifests import OCI_INDEX
from indexer.registry import InvalidContent, NotFound, RegistryError, TransientError
from tests.indexer.fake_registry import (
    FakeRegistry,
    attestation_entry,
    attestation_manifest,
    image_config,
    image_manifest,
    layer_digest,
)

REPO = "team/service"
PUSHED = "2026-11-28T13:00:00Z"


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield pool


def push_index(reg: FakeRegistry) -> dict[str, str]:
    amd = reg.push_image(REPO, config=image_config(labels={"a": "1"}), layer_seed="amd")
    arm = reg.push_image(REPO, config=image_config("linux", "arm", variant="v7"), layer_seed="arm")
    att = attestation_manifest(reg, REPO)
    att_platform, att_annotations = attestation_entry(amd)
    index = reg.push_index(
        REPO,
        [(amd, {"os": "linux", "architecture": "amd64"}, None),
         (arm, {"os": "linux", "architecture": "arm", "variant": "v7"}, None),
         (att, att_platform, att_annotations)],
        tag="1.0",
        annotations={"org.opencontainers.image.title": "Service"},
    )
    return {"amd": amd, "arm": arm, "att": att, "index": index}


def config_digest(reg: FakeRegistry, manifest_digest: str) -> str:
    body = json.loads(reg.manifests[REPO][manifest_digest][1])
    return str(body["config"]["digest"])


def test_fake_satisfies_the_protocol() -> None:
    source: ManifestSource = FakeRegistry()
    assert isinstance(source, FakeRegistry)


def test_single_manifest() -> None:
    reg = FakeRegistry()
    digest = reg.push_image(REPO, tag="1.0", config=image_config(labels={"org.label-schema.name": "svc"}))
    doc = fetch_tag_document(reg, "reg:5000", REPO, "1.0", pushed=PUSHED)
    assert (doc.registry, doc.repository, doc.tag, doc.digest) == ("reg:5000", REPO, "1.0", digest)
    assert doc.title == "svc"
    assert doc.platforms == (Platform("linux", "amd64"),)
    assert reg.calls == [
        ("get_manifest", REPO, "1.0"),
        ("get_blob", REPO, config_digest(reg, digest)),
    ]


def test_index_fetches_children_and_their_configs_but_not_attestations() -> None:
    reg = FakeRegistry()
    d = push_index(reg)
    doc = fetch_tag_document(reg, "reg:5000", REPO, "1.0", pushed=PUSHED)
    assert doc.digest == d["index"]
    assert doc.children == (d["amd"], d["arm"])
    assert doc.platforms == (Platform("linux", "amd64"), Platform("linux", "arm", "v7"))
    assert doc.title == "Service"
    assert doc.labels == {"a": "1"}
    fetched = {ref for _, _, ref in reg.calls}
    assert fetched == {"1.0", d["amd"], d["arm"], config_digest(reg, d["amd"]), config_digest(reg, d["arm"])}
    assert d["att"] not in fetched


def test_concurrent_fetch_gives_the_same_document(executor: ThreadPoolExecutor) -> None:
    reg = FakeRegistry()
    push_index(reg)
    sequential = fetch_tag_document(reg, "reg:5000", REPO, "1.0", pushed=PUSHED)
    concurrent = fetch_tag_document(reg, "reg:5000", REPO, "1.0", pushed=PUSHED, executor=executor)
    assert concurrent == sequential


def test_known_digest_is_fetched_by_digest() -> None:
    reg = FakeRegistry()
    old = reg.push_image(REPO, tag="1.0", config=image_config(), layer_seed="old")
    reg.push_image(REPO, tag="1.0", config=image_config(), layer_seed="new")
    doc = fetch_tag_document(reg, "reg:5000", REPO, "1.0", pushed=PUSHED, known_digest=old)
    assert doc.digest == old
    assert reg.calls[0] == ("get_manifest", REPO, old)


def test_known_digest_gone_falls_back_to_the_tag() -> None:
    reg = FakeRegistry()
    current = reg.push_image(REPO, tag="1.0", config=image_config())
    gone = "sha256:" + "0" * 64
    doc = fetch_tag_document(reg, "reg:5000", REPO, "1.0", pushed=PUSHED, known_digest=gone)
    assert doc.digest == current


def test_artifact_config_is_not_fetched() -> None:
    reg = FakeRegistry()
    manifest = image_manifest(layer_digest("cfg"), 2, layers=[(layer_digest("sig"), 50)],
                              config_media_type="application/vnd.oci.empty.v1+json")
    reg.put_manifest(REPO, manifest, tag="sig")
    doc = fetch_tag_document(reg, "reg:5000", REPO, "sig", pushed=PUSHED)
    assert doc.platforms == ()
    assert [call[0] for call in reg.calls] == ["get_manifest"]


def test_missing_tag_is_not_found() -> None:
    with pytest.raises(NotFound):
        fetch_tag_document(FakeRegistry(), "reg:5000", REPO, "nope", pushed=PUSHED)


@pytest.mark.parametrize("use_executor", [False, True])
@pytest.mark.parametrize("target", ["amd", "arm-config"])
@pytest.mark.parametrize("error", [TransientError("registry down"), NotFound("gone"), InvalidContent("bad")])
def test_source_errors_propagate_unchanged(
    executor: ThreadPoolExecutor, use_executor: bool, target: str, error: RegistryError
) -> None:
    reg = FakeRegistry()
    d = push_index(reg)
    reference = d["amd"] if target == "amd" else config_digest(reg, d["arm"])
    reg.fail(REPO, reference, error)
    with pytest.raises(type(error)) as raised:
        fetch_tag_document(reg, "reg:5000", REPO, "1.0", pushed=PUSHED,
                           executor=executor if use_executor else None)
    assert raised.value is error


def test_missing_child_blob_is_not_found() -> None:
    reg = FakeRegistry()
    d = push_index(reg)
    del reg.blobs[REPO][config_digest(reg, d["arm"])]
    with pytest.raises(NotFound):
        fetch_tag_document(reg, "reg:5000", REPO, "1.0", pushed=PUSHED)


def test_malformed_manifest_is_invalid() -> None:
    reg = FakeRegistry()
    reg.put_manifest(REPO, b'{"schemaVersion": 2, "mediaType": "' + OCI_INDEX.encode() + b'"',
                     tag="1.0", content_type=OCI_INDEX)
    with pytest.raises(InvalidContent):
        fetch_tag_document(reg, "reg:5000", REPO, "1.0", pushed=PUSHED)


def test_manifest_without_layers_is_invalid() -> None:
    reg = FakeRegistry()
    manifest = image_manifest(layer_digest("c"), 2, layers=[])
    del manifest["layers"]
    reg.put_manifest(REPO, manifest, tag="1.0")
    with pytest.raises(InvalidContent, match="layers"):
        fetch_tag_document(reg, "reg:5000", REPO, "1.0", pushed=PUSHED)
    assert [call[0] for call in reg.calls] == ["get_manifest"]
