"""``bench.load`` against a real registry: what it reports is what the registry API then shows."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.corpus import debian_packages
from bench.images import SEED_REPOSITORY
from bench.image_specs import OCI_INDEX, ImageSpec, LoadPlan, plan_images
from bench.load import LoadReport, load
from tests.support.registry import RegistryProcess

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
PLAN = LoadPlan(repositories=12, tags_per_repo=2, threads=4, seed=3, multi_platform_share=0.5, arm64_share=0.2)
ACCEPT = ", ".join([OCI_INDEX, "application/vnd.oci.image.manifest.v1+json"])


@dataclass(frozen=True)
class Loaded:
    registry: RegistryProcess
    images: list[ImageSpec]
    report: LoadReport
    progress: list[int]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """A registry loaded with ``PLAN`` over the Debian corpus."""
    with RegistryProcess(tmp_path_factory.mktemp("registry")) as registry:
        images = plan_images(PLAN, debian_packages())
        progress: list[int] = []
        report = load(registry.url, PLAN, progress=progress.append, images=images)
        yield Loaded(registry, images, report, progress)


def test_every_tag_was_pushed_and_reported(loaded: Loaded) -> None:
    report = loaded.report
    assert report.failures == ()
    assert (report.repositories, report.tags) == (12, 24)
    # a multi-platform tag is 2 children and an index; "latest" re-tags the newest manifest with 1 PUT
    assert report.manifests == sum((3 if spec.multi_platform else 1) + 1 for spec in loaded.images)
    assert sum(loaded.progress) == 24 and len(loaded.progress) == 12
    assert report.seconds > 0 and report.pushes_per_second > 0


def test_the_catalog_lists_the_planned_repositories_and_the_base_layer_store(loaded: Loaded) -> None:
    catalog = _get(loaded, "/v2/_catalog", params={"n": 100})["repositories"]
    assert sorted(catalog) == sorted([spec.repository for spec in loaded.images] + [SEED_REPOSITORY])


def test_each_repository_has_its_planned_tags(loaded: Loaded) -> None:
    for spec in loaded.images:
        listed = _get(loaded, f"/v2/{spec.repository}/tags/list")
        assert sorted(listed["tags"]) == sorted(t.tag for t in spec.tags)


def test_a_multi_platform_tag_is_an_oci_index_of_two_children(loaded: Loaded) -> None:
    spec = next(s for s in loaded.images if s.multi_platform)
    index = _manifest(loaded, spec.repository, spec.tags[0].tag)
    assert index["mediaType"] == OCI_INDEX
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]
    for child in index["manifests"]:
        manifest = _manifest(loaded, spec.repository, child["digest"])
        config = _blob(loaded, spec.repository, manifest["config"]["digest"])
        assert config["architecture"] == child["platform"]["architecture"]
        assert config["config"]["Labels"]["org.opencontainers.image.version"] == spec.tags[0].version


def test_a_base_layer_is_the_same_blob_in_two_repositories(loaded: Loaded) -> None:
    first, second = _two_sharing_a_base(loaded.images)
    bases = [_first_layers(loaded, spec) for spec in (first, second)]
    shared = set(bases[0]) & set(bases[1])
    assert shared
    for spec in (first, second):
        digest = next(iter(shared))
        head = requests.head(f"{loaded.registry.url}/v2/{spec.repository}/blobs/{digest}", timeout=10)
        assert head.status_code == 200


def test_the_command_line_loads_and_prints_the_report(registry: RegistryProcess) -> None:
    command = [sys.executable, "-m", "bench.load", "--registry", registry.url,
               "--repositories", "3", "--tags", "1", "--threads", "2", "--seed", "99"]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "pushed 3 tags" in result.stdout and "0 failed" in result.stdout
    assert len(requests.get(f"{registry.url}/v2/_catalog", timeout=10).json()["repositories"]) == 4


def _two_sharing_a_base(images: list[ImageSpec]) -> tuple[ImageSpec, ImageSpec]:
    seen: dict[tuple[str, str], ImageSpec] = {}
    for spec in images:
        for arch in spec.platforms:
            if (spec.distro.name, arch) in seen:
                return seen[(spec.distro.name, arch)], spec
            seen[(spec.distro.name, arch)] = spec
    raise AssertionError("12 repositories over 10 distro bases must share one")


def _first_layers(loaded: Loaded, spec: ImageSpec) -> list[str]:
    top = _manifest(loaded, spec.repository, spec.tags[0].tag)
    manifests = [_manifest(loaded, spec.repository, m["digest"]) for m in top["manifests"]] if "manifests" in top else [top]
    return [manifest["layers"][0]["digest"] for manifest in manifests]


def _manifest(loaded: Loaded, repository: str, reference: str) -> dict[str, Any]:
    response = requests.get(
        f"{loaded.registry.url}/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT}, timeout=10
    )
    response.raise_for_status()
    return json.loads(response.content)


def _blob(loaded: Loaded, repository: str, digest: str) -> dict[str, Any]:
    response = requests.get(f"{loaded.registry.url}/v2/{repository}/blobs/{digest}", timeout=10)
    response.raise_for_status()
    return json.loads(response.content)


def _get(loaded: Loaded, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    response = requests.get(loaded.registry.url + path, params=params, timeout=10)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result
