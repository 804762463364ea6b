"""The registry client against a real distribution 2.8 registry, pushed to with skopeo."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from indexer.registry import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    Credentials,
    InvalidContent,
    NotFound,
    RegistryClient,
    TransientError,
    Unauthorized,
    compute_digest,
)
from tests.support.oci import BuiltImage, OciBuilder, build_image, build_index, delete, push
from tests.support.registry import RegistryProcess, credentials

pytestmark = pytest.mark.integration

TITLE = "org.opencontainers.image.title"


@dataclass(frozen=True)
class Populated:
    """A registry holding one image of every manifest kind the indexer reads."""

    registry: RegistryProcess
    single: BuiltImage
    single_next: BuiltImage
    index: BuiltImage


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Populated]:
    root = tmp_path_factory.mktemp("populated")
    with RegistryProcess(root / "registry") as registry:
        single = build_image(root / "single", tag="1.0", config={"labels": {"tier": "one"}}, annotations={TITLE: "single"})
        single_next = build_image(root / "single", tag="1.1", layers=[b"next\n"], config={"labels": {"tier": "two"}})
        index = build_index(root / "multi", tag="latest", annotations={TITLE: "multi"})
        push(single.path, "1.0", f"{registry.host}/apps/single:1.0")
        push(single.path, "1.1", f"{registry.host}/apps/single:1.1")
        push(index.path, "latest", f"{registry.host}/apps/multi:latest", all_platforms=True)
        push(single.path, "1.0", f"{registry.host}/legacy/v2:1.0", format="v2s2")
        push(index.path, "latest", f"{registry.host}/legacy/list:latest", all_platforms=True, format="v2s2")
        push(single.path, "1.0", f"{registry.host}/zeta/extra:1")
        yield Populated(registry, single, single_next, index)


@pytest.fixture(scope="module")
def client(populated: Populated) -> Iterator[RegistryClient]:
    with RegistryClient(populated.registry.url, timeout=5.0) as registry_client:
        yield registry_client


ALL_REPOSITORIES = ["apps/multi", "apps/single", "legacy/list", "legacy/v2", "zeta/extra"]


class TestListing:
    def test_name_is_host_and_port(self, client: RegistryClient, populated: Populated) -> None:
        assert client.name == populated.registry.host
        client.ping()

    @pytest.mark.parametrize("page_size", [1, 2, 100, 1000])  # 1000: the most distribution allows, the reconciler's
    def test_catalog_walks_every_page(self, client: RegistryClient, page_size: int) -> None:
        assert list(client.catalog(page_size=page_size)) == ALL_REPOSITORIES

    def test_small_pages_really_are_linked(self, populated: Populated) -> None:
        first = requests.get(f"{populated.registry.url}/v2/_catalog?n=2", timeout=5)
        assert first.json() == {"repositories": ALL_REPOSITORIES[:2]}
        assert 'rel="next"' in first.headers["Link"]

    def test_tags(self, client: RegistryClient) -> None:
        assert sorted(client.tags("apps/single")) == ["1.0", "1.1"]
        assert client.tags("apps/multi") == ["latest"]

    def test_tags_of_unknown_repository(self, client: RegistryClient) -> None:
        with pytest.raises(NotFound) as caught:
            client.tags("apps/missing")
        assert caught.value.code == "NAME_UNKNOWN"


class TestManifests:
    @pytest.mark.parametrize(
        ("repository", "tag", "media_type"),
        [
            ("apps/single", "1.0", OCI_MANIFEST),
            ("apps/multi", "latest", OCI_INDEX),
            ("legacy/v2", "1.0", DOCKER_MANIFEST),
            ("legacy/list", "latest", DOCKER_MANIFEST_LIST),
        ],
    )
    def test_every_kind_is_fetched_and_verified(
        self, client: RegistryClient, repository: str, tag: str, media_type: str
    ) -> None:
        manifest = client.get_manifest(repository, tag)
        assert manifest.media_type == media_type
        assert manifest.json()["mediaType"] == media_type
        assert manifest.digest == compute_digest(manifest.body)
        assert client.head_manifest(repository, tag) == manifest.digest
        assert client.get_manifest(repository, manifest.digest) == manifest

    def test_oci_pushes_keep_the_built_digests(self, client: RegistryClient, populated: Populated) -> None:
        assert client.head_manifest("apps/single", "1.0") == populated.single.digest
        assert client.head_manifest("apps/single", "1.1") == populated.single_next.digest
        index = client.get_manifest("apps/multi", "latest")
        assert index.digest == populated.index.digest
        assert [m["digest"] for m in index.json()["manifests"]] == list(populated.index.children)
        assert index.json()["annotations"] == {TITLE: "multi"}

    def test_children_of_a_manifest_list(self, client: RegistryClient) -> None:
        listing = client.get_manifest("legacy/list", "latest").json()
        platforms = [m["platform"]["architecture"] for m in listing["manifests"]]
        assert platforms == ["amd64", "arm64"]
        child = client.get_manifest("legacy/list", listing["manifests"][1]["digest"])
        assert child.media_type == DOCKER_MANIFEST

    def test_config_blob(self, client: RegistryClient, populated: Populated) -> None:
        config = json.loads(client.get_blob("apps/single", str(populated.single.config_digest)))
        assert config["config"]["Labels"] == {"tier": "one"}
        assert (config["os"], config["architecture"]) == ("linux", "amd64")
        v2_manifest = client.get_manifest("legacy/v2", "1.0").json()
        v2_config = json.loads(client.get_blob("legacy/v2", v2_manifest["config"]["digest"]))
        assert v2_config["config"]["Labels"] == {"tier": "one"}

    def test_blob_over_the_limit(self, client: RegistryClient, populated: Populated) -> None:
        layer = populated.single.layer_digests[0]
        assert len(client.get_blob("apps/single", layer)) > 20
        with pytest.raises(InvalidContent, match="limit"):
            client.get_blob("apps/single", layer, max_bytes=20)

    @pytest.mark.parametrize(
        ("repository", "reference", "code"),
        [
            ("apps/single", "9.9", "MANIFEST_UNKNOWN"),
            # distribution 2.8 says MANIFEST_UNKNOWN, not NAME_UNKNOWN, for an unknown repository
            ("apps/missing", "1.0", "MANIFEST_UNKNOWN"),
            ("apps/single", "sha256:" + "0" * 64, "MANIFEST_UNKNOWN"),
        ],
    )
    def test_missing_manifest(self, client: RegistryClient, repository: str, reference: str, code: str) -> None:
        with pytest.raises(NotFound) as caught:
            client.get_manifest(repository, reference)
        assert caught.value.code == code
        with pytest.raises(NotFound):
            client.head_manifest(repository, reference)

    def test_missing_blob(self, client: RegistryClient) -> None:
        with pytest.raises(NotFound):
            client.get_blob("apps/single", "sha256:" + "1" * 64)


class TestTampering:
    """Content addressability: bytes altered in the registry's storage are refused."""

    def test_altered_manifest_and_blob(self, registry: RegistryProcess, oci_builder: OciBuilder) -> None:
        image = oci_builder.image(tag="1", config={"labels": {"note": "original"}}, annotations={TITLE: "original"})
        push(image.path, "1", f"{registry.host}/tamper/me:1")
        _alter_blob(registry, image.digest, b"original", b"tampered")
        _alter_blob(registry, str(image.config_digest), b"original", b"tampered")
        with RegistryClient(registry.url) as registry_client:
            for reference in ("1", image.digest):
                with pytest.raises(InvalidContent, match="digest mismatch"):
                    registry_client.get_manifest("tamper/me", reference)
            with pytest.raises(InvalidContent, match="digest mismatch"):
                registry_client.get_blob("tamper/me", str(image.config_digest))

    def test_repository_without_tags_after_delete(self, registry: RegistryProcess, oci_builder: OciBuilder) -> None:
        image = oci_builder.image(tag="1")
        push(image.path, "1", f"{registry.host}/gone/soon:1")
        assert delete(registry.url, "gone/soon", "1") == image.digest
        with RegistryClient(registry.url) as registry_client:
            assert registry_client.tags("gone/soon") == []
            with pytest.raises(NotFound):
                registry_client.get_manifest("gone/soon", image.digest)


def _alter_blob(registry: RegistryProcess, digest: str, old: bytes, new: bytes) -> None:
    """Rewrite a blob in the filesystem storage, keeping its length."""
    hex_digest = digest.split(":", 1)[1]
    data = registry.directory / "storage/docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest / "data"
    content = data.read_bytes()
    assert old in content and len(old) == len(new)
    data.write_bytes(content.replace(old, new))


class TestHtpasswd:
    @pytest.fixture
    def pushed(self, htpasswd_registry: RegistryProcess, oci_builder: OciBuilder) -> BuiltImage:
        image = oci_builder.image(tag="1")
        push(image.path, "1", f"{htpasswd_registry.host}/private/app:1", creds=credentials("alice"))
        return image

    def test_credentials_are_sent_after_the_challenge(self, htpasswd_registry: RegistryProcess, pushed: BuiltImage) -> None:
        with RegistryClient(htpasswd_registry.url, credentials=credentials("alice")) as registry_client:
            registry_client.ping()
            assert list(registry_client.catalog()) == ["private/app"]
            assert registry_client.tags("private/app") == ["1"]
            assert registry_client.get_manifest("private/app", "1").digest == pushed.digest

    def test_anonymous_is_refused(self, htpasswd_registry: RegistryProcess, pushed: BuiltImage) -> None:
        with RegistryClient(htpasswd_registry.url) as registry_client:
            with pytest.raises(Unauthorized, match="anonymous"):
                registry_client.tags("private/app")

    def test_wrong_password_names_user_and_realm(self, htpasswd_registry: RegistryProcess, pushed: BuiltImage) -> None:
        wrong = Credentials("alice", "not-the-password")
        with RegistryClient(htpasswd_registry.url, credentials=wrong) as registry_client:
            with pytest.raises(Unauthorized) as caught:
                registry_client.get_manifest("private/app", "1")
        message = str(caught.value)
        assert "'alice'" in message and "regsearch-test" in message
        assert "not-the-password" not in message


class TestToken:
    @pytest.fixture
    def pushed(self, token_registry: RegistryProcess, oci_builder: OciBuilder) -> BuiltImage:
        image = oci_builder.image(tag="1")
        push(image.path, "1", f"{token_registry.host}/private/app:1", creds=credentials("alice"))
        assert token_registry.issuer is not None
        token_registry.issuer.requests_by_scope.clear()
        return image

    def test_token_is_fetched_once_per_scope(self, token_registry: RegistryProcess, pushed: BuiltImage) -> None:
        assert token_registry.issuer is not None
        with RegistryClient(token_registry.url, credentials=credentials("alice")) as registry_client:
            for _ in range(3):
                assert registry_client.head_manifest("private/app", "1") == pushed.digest
                assert registry_client.tags("private/app") == ["1"]
            with ThreadPoolExecutor(max_workers=4) as pool:
                digests = set(pool.map(lambda _: registry_client.get_manifest("private/app", "1").digest, range(8)))
        assert digests == {pushed.digest}
        assert token_registry.issuer.requests_by_scope == {"repository:private/app:pull": 1}

    def test_catalog_needs_the_admin_scope(self, token_registry: RegistryProcess, pushed: BuiltImage) -> None:
        with RegistryClient(token_registry.url, credentials=credentials("admin")) as admin:
            assert list(admin.catalog()) == ["private/app"]
        with RegistryClient(token_registry.url, credentials=credentials("alice")) as alice:
            with pytest.raises(Unauthorized, match="'alice'"):
                list(alice.catalog())

    def test_wrong_password_and_anonymous(self, token_registry: RegistryProcess, pushed: BuiltImage) -> None:
        assert token_registry.issuer is not None
        wrong = Credentials("alice", "not-the-password")
        with RegistryClient(token_registry.url, credentials=wrong) as registry_client:
            with pytest.raises(Unauthorized) as caught:
                registry_client.tags("private/app")
        assert "'alice'" in str(caught.value) and token_registry.issuer.realm in str(caught.value)
        assert "not-the-password" not in str(caught.value)
        with RegistryClient(token_registry.url) as registry_client:
            with pytest.raises(Unauthorized, match="anonymous"):
                registry_client.tags("private/app")


def test_stopped_registry_is_transient_until_restarted(registry: RegistryProcess, oci_builder: OciBuilder) -> None:
    image = oci_builder.image(tag="1")
    push(image.path, "1", f"{registry.host}/survives/restart:1")
    with RegistryClient(registry.url, timeout=2.0) as registry_client:
        registry.stop()
        with pytest.raises(TransientError):
            registry_client.tags("survives/restart")
        with pytest.raises(TransientError):
            registry_client.ping()
        registry.start()
        assert registry_client.head_manifest("survives/restart", "1") == image.digest


def test_one_layout_holds_several_tags(tmp_path: Path) -> None:
    """Same inputs give the same digest; each tag gets its own entry in index.json."""
    first = build_image(tmp_path / "layout", tag="a")
    second = build_image(tmp_path / "layout", tag="b")
    assert first.digest == second.digest
    entries = json.loads((tmp_path / "layout" / "index.json").read_text())["manifests"]
    assert [m["annotations"]["org.opencontainers.image.ref.name"] for m in entries] == ["a", "b"]
