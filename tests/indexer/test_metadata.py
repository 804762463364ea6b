from __future__ import annotations

import json

import pytest

from indexer.documents import Platform, TagDocument
from indexer.manifests import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST
from indexer.metadata import (
    build_repository_document,
    build_tag_document,
    image_metadata,
    metadata_from_sources,
    utc_timestamp,
)
from indexer.registry import FetchedManifest, InvalidContent
from tests.indexer.fake_registry import (
    FakeRegistry,
    attestation_entry,
    attestation_manifest,
    image_config,
    image_manifest,
    layer_digest,
)

REPO = "library/app"
PUSHED = "2026-11-28T13:00:00Z"
OCI = "org.opencontainers.image."
LS = "org.label-schema."


def document(registry: FakeRegistry, digest: str, tag: str = "1.0") -> TagDocument:
    """Build the document from everything stored, as fetch would supply it."""
    return build_tag_document(
        registry="reg.example:5000",
        repository=REPO,
        tag=tag,
        root=registry.get_manifest(REPO, digest),
        children={d: registry.get_manifest(REPO, d) for d in registry.manifests[REPO]},
        configs=registry.blobs.get(REPO, {}),
        pushed=PUSHED,
    )


def size_of(registry: FakeRegistry, digest: str) -> int:
    return len(registry.manifests[REPO][digest][1])


# -- image_metadata ---------------------------------------------------------


def test_annotation_beats_label() -> None:
    meta = image_metadata({OCI + "title": "from annotation"}, {OCI + "title": "from label"})
    assert meta.title == "from annotation"


def test_oci_key_beats_label_schema_key() -> None:
    meta = image_metadata({}, {LS + "name": "old", OCI + "title": "new", LS + "description": "old desc"})
    assert meta.title == "new"
    assert meta.description == "old desc"


def test_annotations_win_even_with_older_keys() -> None:
    meta = image_metadata({LS + "name": "annotated"}, {OCI + "title": "labelled"})
    assert meta.title == "annotated"


def test_label_schema_keys_map_to_oci_fields() -> None:
    meta = image_metadata(
        {},
        {
            LS + "name": "app",
            LS + "build-date": "2019-03-04T05:06:07Z",
            LS + "vcs-url": "https://git.example/app",
            LS + "license": "MIT",
            LS + "vendor": "Example",
            LS + "usage": "https://docs.example/app",
        },
    )
    assert (meta.title, meta.created, meta.source, meta.licenses) == (
        "app", "2019-03-04T05:06:07Z", "https://git.example/app", "MIT")
    assert (meta.vendor, meta.documentation) == ("Example", "https://docs.example/app")


def test_all_oci_keys() -> None:
    keys = ["title", "description", "version", "authors", "url", "documentation", "source",
            "revision", "vendor", "licenses", "base.name", "base.digest"]
    meta = image_metadata({OCI + k: k.upper() for k in keys}, {})
    assert meta.version == "VERSION" and meta.revision == "REVISION"
    assert meta.base_name == "BASE.NAME" and meta.base_digest == "BASE.DIGEST"
    assert meta.authors == "AUTHORS" and meta.url == "URL"


def test_blank_values_do_not_count() -> None:
    meta = image_metadata({OCI + "title": "  "}, {OCI + "title": "real"})
    assert meta.title == "real"


def test_created_is_normalised_and_unparseable_falls_through() -> None:
    meta = image_metadata({OCI + "created": "yesterday"}, {LS + "build-date": "2024-01-02T03:04:05.5+02:00"})
    assert meta.created == "2024-01-02T01:04:05Z"


def test_nothing_found_is_none() -> None:
    meta = image_metadata({}, {"maintainer": "me"})
    assert meta.title is None and meta.created is None


def test_sources_in_order() -> None:
    meta = metadata_from_sources([{}, {OCI + "description": "second"}, {OCI + "description": "third"}])
    assert meta.description == "second"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-05-01T10:00:00.123456789Z", "2024-05-01T10:00:00Z"),
        ("2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00Z"),
        ("2024-05-01", "2024-05-01T00:00:00Z"),
        ("0001-01-01T00:00:00Z", None),
        ("not a date", None),
        ("", None),
        (None, None),
    ],
)
def test_utc_timestamp(value: str | None, expected: str | None) -> None:
    assert utc_timestamp(value) == expected


# -- single-manifest tag documents ------------------------------------------


def test_oci_manifest_document() -> None:
    reg = FakeRegistry()
    config = image_config(labels={"maintainer": "ops@example", OCI + "title": "label title"})
    digest = reg.push_image(
        REPO, tag="1.0", config=config, layer_sizes=[3000, 400],
        annotations={OCI + "title": "App", OCI + "created": "2025-01-01T00:00:00Z"},
    )
    doc = document(reg, digest)
    config_digest, config_size = reg.put_blob(REPO, config)
    assert doc.digest == digest
    assert doc.media_type == OCI_MANIFEST
    assert doc.platforms == (Platform("linux", "amd64"),)
    assert doc.size == size_of(reg, digest) + config_size + 3400
    assert doc.created == "2025-01-01T00:00:00Z"
    assert doc.pushed == PUSHED
    assert doc.title == "App"
    assert doc.description is None
    assert doc.labels == {"maintainer": "ops@example", OCI + "title": "label title"}
    assert doc.annotations == {OCI + "title": "App", OCI + "created": "2025-01-01T00:00:00Z"}
    assert doc.layers == (layer_digest("0"), layer_digest("1"))
    assert doc.configs == (config_digest,)
    assert doc.children == ()
    assert doc.doc_id == "tag:reg.example:5000/library/app:1.0"


def test_docker_manifest_with_label_schema_labels() -> None:
    reg = FakeRegistry()
    labels = {LS + "name": "legacy", LS + "description": "An old image", LS + "build-date": "20190102"}
    digest = reg.push_image(REPO, config=image_config(labels=labels), docker=True)
    doc = document(reg, digest)
    assert doc.media_type == DOCKER_MANIFEST
    assert (doc.title, doc.description) == ("legacy", "An old image")
    assert doc.created == "2019-01-02T00:00:00Z"


def test_config_created_when_metadata_has_none() -> None:
    reg = FakeRegistry()
    digest = reg.push_image(REPO, config=image_config(labels_null=True))
    doc = document(reg, digest)
    assert doc.created == "2024-05-01T10:00:00Z"
    assert doc.labels == {}
    assert doc.title is None


def test_pushed_is_normalised() -> None:
    reg = FakeRegistry()
    digest = reg.push_image(REPO, config=image_config())
    doc = build_tag_document(
        registry="r", repository=REPO, tag="t", root=reg.get_manifest(REPO, digest),
        children={}, configs=reg.blobs[REPO], pushed="2026-11-28T14:00:00.000000001+01:00",
    )
    assert doc.pushed == PUSHED


def test_artifact_has_no_platform_and_needs_no_config() -> None:
    reg = FakeRegistry()
    manifest = image_manifest(
        layer_digest("cfg"), 120, layers=[(layer_digest("chart"), 4000)],
        config_media_type="application/vnd.cncf.helm.config.v1+json",
    )
    digest = reg.put_manifest(REPO, manifest)
    doc = build_tag_document(registry="r", repository=REPO, tag="0.1.0",
                             root=reg.get_manifest(REPO, digest), children={}, configs={}, pushed=PUSHED)
    assert doc.platforms == ()
    assert doc.size == size_of(reg, digest) + 120 + 4000
    assert doc.configs == (layer_digest("cfg"),)


def test_missing_config_is_a_caller_error() -> None:
    reg = FakeRegistry()
    digest = reg.push_image(REPO, config=image_config())
    with pytest.raises(ValueError, match="config blob"):
        build_tag_document(registry="r", repository=REPO, tag="t", root=reg.get_manifest(REPO, digest),
                           children={}, configs={}, pushed=PUSHED)


def test_malformed_config_is_invalid() -> None:
    reg = FakeRegistry()
    config_digest, _ = reg.put_blob(REPO, b"{broken")
    digest = reg.put_manifest(REPO, image_manifest(config_digest, 7, layers=[]))
    with pytest.raises(InvalidContent):
        document(reg, digest)


# -- index tag documents ----------------------------------------------------


def push_multi_arch(reg: FakeRegistry, *, index_annotations: dict[str, str] | None = None) -> dict[str, str]:
    amd = reg.push_image(
        REPO, config=image_config(labels={"maintainer": "amd", LS + "description": "label desc"}),
        layer_sizes=[100, 200], layer_seed="amd", annotations={OCI + "title": "child title"},
    )
    arm = reg.push_image(
        REPO, config=image_config("linux", "arm64", variant="v8", labels={"maintainer": "arm"}),
        layer_sizes=[300, 200], layer_seed="arm",
    )
    att = attestation_manifest(reg, REPO)
    att_platform, att_annotations = attestation_entry(amd)
    index = reg.push_index(
        REPO,
        [
            (amd, {"os": "linux", "architecture": "amd64"}, None),
            (arm, {"os": "linux", "architecture": "arm64", "variant": "v8"}, None),
            (att, att_platform, att_annotations),
        ],
        tag="1.0",
        annotations=index_annotations,
    )
    return {"amd": amd, "arm": arm, "att": att, "index": index}


def test_oci_index_with_two_platforms_and_an_attestation() -> None:
    reg = FakeRegistry()
    d = push_multi_arch(reg, index_annotations={OCI + "description": "index desc"})
    doc = document(reg, d["index"])
    amd_config = json.loads(reg.get_manifest(REPO, d["amd"]).body)["config"]
    arm_config = json.loads(reg.get_manifest(REPO, d["arm"]).body)["config"]
    assert doc.media_type == OCI_INDEX
    assert doc.platforms == (Platform("linux", "amd64"), Platform("linux", "arm64", "v8"))
    assert doc.children == (d["amd"], d["arm"])
    assert doc.size == (
        size_of(reg, d["index"])
        + size_of(reg, d["amd"]) + amd_config["size"] + 300
        + size_of(reg, d["arm"]) + arm_config["size"] + 500
    )
    assert doc.layers == (layer_digest("amd0"), layer_digest("amd1"), layer_digest("arm0"), layer_digest("arm1"))
    assert doc.configs == (amd_config["digest"], arm_config["digest"])
    assert doc.labels == {"maintainer": "amd", LS + "description": "label desc"}
    assert doc.annotations == {OCI + "description": "index desc"}
    assert doc.title == "child title"
    assert doc.description == "index desc"
    assert doc.created == "2024-05-01T10:00:00Z"


def test_index_annotations_beat_child_metadata_and_children_go_in_order() -> None:
    reg = FakeRegistry()
    d = push_multi_arch(reg)
    doc = document(reg, d["index"])
    assert doc.description == "label desc"
    assert doc.annotations == {}


def test_shared_layers_listed_once() -> None:
    reg = FakeRegistry()
    a = reg.push_image(REPO, config=image_config(), layer_seed="same")
    b = reg.push_image(REPO, config=image_config("linux", "s390x"), layer_seed="same")
    index = reg.push_index(REPO, [(a, {"os": "linux", "architecture": "amd64"}, None),
                                  (b, {"os": "linux", "architecture": "s390x"}, None)])
    doc = document(reg, index)
    assert doc.layers == (layer_digest("same0"),)
    assert len(doc.configs) == 2


def test_docker_manifest_list_with_arm_v7() -> None:
    reg = FakeRegistry()
    v7 = reg.push_image(REPO, config=image_config("linux", "arm", variant="v7"), docker=True)
    amd = reg.push_image(REPO, config=image_config(), docker=True)
    index = reg.push_index(
        REPO,
        [(amd, {"architecture": "amd64", "os": "linux"}, None),
         (v7, {"architecture": "arm", "os": "linux", "variant": "v7"}, None)],
        docker=True,
    )
    doc = document(reg, index)
    assert doc.media_type == DOCKER_MANIFEST_LIST
    assert [str(p) for p in doc.platforms] == ["linux/amd64", "linux/arm/v7"]


def test_index_entry_without_platform_uses_the_config() -> None:
    reg = FakeRegistry()
    child = reg.push_image(REPO, config=image_config("windows", "amd64"))
    index = reg.push_index(REPO, [(child, None, None)])
    assert document(reg, index).platforms == (Platform("windows", "amd64"),)


def test_missing_child_is_a_caller_error() -> None:
    reg = FakeRegistry()
    d = push_multi_arch(reg)
    with pytest.raises(ValueError, match="child manifest"):
        build_tag_document(registry="r", repository=REPO, tag="t", root=reg.get_manifest(REPO, d["index"]),
                           children={}, configs=reg.blobs[REPO], pushed=PUSHED)


def test_child_that_is_an_index_is_invalid() -> None:
    reg = FakeRegistry()
    inner = reg.push_index(REPO, [])
    entry = {"mediaType": OCI_MANIFEST, "digest": inner, "size": size_of(reg, inner),
             "platform": {"os": "linux", "architecture": "amd64"}}
    outer = reg.put_manifest(REPO, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]})
    with pytest.raises(InvalidContent, match="itself an index"):
        document(reg, outer)


def test_empty_index() -> None:
    reg = FakeRegistry()
    index = reg.push_index(REPO, [])
    doc = document(reg, index)
    assert doc.platforms == () and doc.labels == {} and doc.children == ()
    assert doc.size == size_of(reg, index)


# -- repository documents ---------------------------------------------------


def tag_doc(tag: str, pushed: str | None, **fields: object) -> TagDocument:
    return TagDocument(registry="r", repository=REPO, tag=tag, digest="sha256:" + tag,
                       media_type=OCI_MANIFEST, pushed=pushed, **fields)  # type: ignore[arg-type]


def test_repository_aggregation() -> None:
    tags = [
        tag_doc("2.0", "2026-01-03T00:00:00Z", title="two", size=50,
                platforms=(Platform("linux", "arm64"),), labels={"v": "2"}),
        tag_doc("latest", "2026-01-02T00:00:00Z", title="latest title", size=70,
                platforms=(Platform("linux", "amd64"),)),
        tag_doc("1.0", "2026-01-01T00:00:00Z", description="old desc", size=10,
                platforms=(Platform("linux", "amd64"),)),
    ]
    repo = build_repository_document("r", REPO, tags, pulls=12)
    assert repo.doc_id == f"repo:r/{REPO}"
    assert repo.tags == ("1.0", "2.0", "latest")
    assert repo.platforms == (Platform("linux", "amd64"), Platform("linux", "arm64"))
    assert repo.title == "latest title"
    assert repo.description == "old desc"
    assert repo.labels == {"v": "2"}
    assert repo.pushed == "2026-01-03T00:00:00Z"
    assert repo.size == 70
    assert repo.pulls == 12


def test_without_latest_the_most_recently_pushed_wins() -> None:
    tags = [
        tag_doc("a", "2026-01-01T00:00:00Z", title="older"),
        tag_doc("b", "2026-01-02T00:00:00Z", title="newer"),
        tag_doc("c", None, title="unknown push time"),
    ]
    repo = build_repository_document("r", REPO, tags, pulls=0)
    assert repo.title == "newer"
    assert repo.pushed == "2026-01-02T00:00:00Z"


def test_repository_without_tags() -> None:
    repo = build_repository_document("r", REPO, [], pulls=3)
    assert repo.tags == () and repo.pushed is None and repo.size == 0 and repo.title is None
    assert repo.pulls == 3


def test_empty_manifest_is_invalid() -> None:
    fetched = FetchedManifest(digest="sha256:x", media_type=OCI_MANIFEST, body=b"{}")
    with pytest.raises(InvalidContent):
        build_tag_document(registry="r", repository=REPO, tag="t", root=fetched,
                           children={}, configs={}, pushed=PUSHED)
