"""``bench.load``'s image specifications: deterministic, in the planned mix, sharing base layers."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from bench.corpus import Package
from bench.image_specs import (
    DISTROS,
    ImageSpec,
    LoadPlan,
    TagSpec,
    base_layer,
    image_config,
    image_index,
    image_manifest,
    image_spec,
    manifest_annotations,
    own_layer,
    plan_images,
    tag_labels,
    team_name,
)
from bench.load import LoadReport

SECTIONS = ("python", "libs", "net", "contrib/games", "non-free/utils")
# distribution's reference grammar for a repository name (path components separated by "/")
COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY = re.compile(rf"^{COMPONENT}(?:/{COMPONENT})*$")
SEMVER, CALVER = re.compile(r"^\d+\.\d+\.\d+$"), re.compile(r"^20\d\d\.(0[1-9]|1[0-2])$")
MANY = 3000


def packages(count: int) -> list[Package]:
    return [Package(f"python3-tool{n}", f"command-line tool number {n} for tests", SECTIONS[n % len(SECTIONS)])
            for n in range(count)]


def specs(plan: LoadPlan, count: int = MANY) -> list[ImageSpec]:
    return [image_spec(p, n, plan) for n, p in enumerate(packages(count))]


def test_the_same_seed_gives_the_same_specs_and_another_seed_other_ones() -> None:
    corpus = packages(200)
    first = plan_images(LoadPlan(repositories=100, seed=7), corpus)
    again = plan_images(LoadPlan(repositories=100, seed=7), corpus)
    other = plan_images(LoadPlan(repositories=100, seed=8), corpus)
    assert first == again
    assert [s.repository for s in first] != [s.repository for s in other]
    same_package = {s.repository.rsplit("/", 1)[-1]: s for s in other}
    differs = [s for s in first if s.repository.rsplit("/", 1)[-1] in same_package
               and s != same_package[s.repository.rsplit("/", 1)[-1]]]
    assert differs, "the seed must change more than which packages are picked"


def test_namespaces_follow_the_planned_shares_and_the_debian_section() -> None:
    made = specs(LoadPlan(library_share=0.2, team_share=0.4))
    kinds = Counter(_namespace_kind(s) for s in made)
    assert abs(kinds["library"] / MANY - 0.2) < 0.03
    assert abs(kinds["team"] / MANY - 0.4) < 0.03
    assert abs(kinds["none"] / MANY - 0.4) < 0.03
    for spec in made:
        assert REPOSITORY.match(spec.repository), spec.repository
        if _namespace_kind(spec) == "team":
            assert spec.repository.split("/")[0] == spec.team


def test_platforms_follow_the_planned_shares() -> None:
    made = specs(LoadPlan(multi_platform_share=0.1, arm64_share=0.15))
    platforms = Counter(s.platforms for s in made)
    assert set(platforms) == {("amd64",), ("arm64",), ("amd64", "arm64")}
    assert abs(platforms[("amd64", "arm64")] / MANY - 0.1) < 0.03
    assert abs(platforms[("arm64",)] / MANY - 0.15) < 0.03
    assert abs(platforms[("amd64",)] / MANY - 0.75) < 0.03


def test_a_few_base_layers_are_shared_by_every_image_and_own_layers_are_not() -> None:
    made = specs(LoadPlan(tags_per_repo=2), count=500)
    bases = Counter(base_layer(s.distro, arch).blob.digest for s in made for arch in s.platforms)
    assert len(bases) == len(DISTROS) * 2
    assert min(bases.values()) > 1
    own = {own_layer(s, t, arch).blob.digest for s in made for t in s.tags if t.tag != "latest" for arch in s.platforms}
    assert len(own) == sum(len(s.platforms) * (len(s.tags) - 1) for s in made)
    assert {s.distro.name for s in made} == {d.name for d in DISTROS}


def test_tags_are_distinct_versions_ending_with_latest_on_the_newest() -> None:
    made = specs(LoadPlan(tags_per_repo=4), count=400)
    styles: Counter[str] = Counter()
    for spec in made:
        names = [t.tag for t in spec.tags]
        assert len(set(names)) == len(names) == 4 and names[-1] == "latest"
        assert spec.tags[-1].version == spec.tags[-2].version
        assert [t.created for t in spec.tags[:-1]] == sorted({t.created for t in spec.tags[:-1]})
        styles.update("semver" if SEMVER.match(n) else "calver" if CALVER.match(n) else n for n in names[:-1])
    assert set(styles) == {"semver", "calver"}


def test_latest_is_the_very_manifest_of_the_newest_version() -> None:
    for spec in specs(LoadPlan(tags_per_repo=3), count=20):
        newest, latest = spec.tags[-2:]
        assert _manifests(spec, newest) == _manifests(spec, latest)


def test_a_single_tag_is_latest() -> None:
    (spec,) = specs(LoadPlan(tags_per_repo=1), count=1)
    assert [t.tag for t in spec.tags] == ["latest"]


def test_labels_carry_oci_label_schema_and_team_keys() -> None:
    made = specs(LoadPlan(label_schema_share=0.25), count=1000)
    legacy = [s for s in made if s.label_schema]
    assert abs(len(legacy) / 1000 - 0.25) < 0.05
    for spec in made[:50]:
        labels = tag_labels(spec, spec.tags[0])
        assert labels["org.opencontainers.image.title"] == spec.repository.rsplit("/", 1)[-1]
        assert labels["org.opencontainers.image.description"] == spec.description
        assert labels["org.opencontainers.image.version"] == spec.tags[0].version
        assert labels["com.example.team"] == spec.team
        assert ("org.label-schema.name" in labels) == spec.label_schema


def test_a_multi_platform_tag_is_an_oci_index_of_one_manifest_per_platform() -> None:
    spec = next(s for s in specs(LoadPlan(multi_platform_share=0.5), count=50) if s.multi_platform)
    tag = spec.tags[0]
    children = []
    for arch in spec.platforms:
        layers = (base_layer(spec.distro, arch), own_layer(spec, tag, arch))
        config = image_config(spec, tag, arch, layers)
        assert json.loads(config.data)["architecture"] == arch
        children.append((arch, image_manifest(config, layers, manifest_annotations(spec, tag))))
    index = json.loads(image_index(children, manifest_annotations(spec, tag)).data)
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [(m["platform"]["architecture"], m["digest"]) for m in index["manifests"]] == [
        (arch, child.digest) for arch, child in children
    ]
    assert index["annotations"]["org.opencontainers.image.base.name"] == spec.distro.reference


def test_team_names_come_from_the_last_part_of_the_section() -> None:
    assert [team_name(s) for s in ("python", "contrib/net", "non-free/gnu-r", "", "X11")] == [
        "team-python", "team-net", "team-gnu-r", "team-misc", "team-x11",
    ]


@pytest.mark.parametrize("bad", [{"repositories": 0}, {"threads": 0}, {"arm64_share": 1.5},
                                 {"library_share": 0.6, "team_share": 0.6}])
def test_a_plan_refuses_impossible_values(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        LoadPlan(**bad)  # type: ignore[arg-type]


def test_the_report_divides_tags_by_seconds() -> None:
    assert LoadReport(repositories=2, tags=50, manifests=60, seconds=2.0).pushes_per_second == 25.0
    assert LoadReport(repositories=0, tags=0, manifests=0, seconds=0.0).pushes_per_second == 0.0


def _namespace_kind(spec: ImageSpec) -> str:
    if "/" not in spec.repository:
        return "none"
    return "library" if spec.repository.startswith("library/") else "team"


def _manifests(spec: ImageSpec, tag: TagSpec) -> list[bytes]:
    manifests = []
    for arch in spec.platforms:
        layers = (base_layer(spec.distro, arch), own_layer(spec, tag, arch))
        manifests.append(image_manifest(image_config(spec, tag, arch, layers), layers, manifest_annotations(spec, tag)).data)
    return manifests


def test_a_smaller_plan_is_a_prefix_of_a_larger_one_with_the_same_seed() -> None:
    corpus = packages(300)
    small = plan_images(LoadPlan(repositories=50, seed=3), corpus)
    large = plan_images(LoadPlan(repositories=250, seed=3), corpus)
    assert large[:50] == small


def test_past_the_corpus_packages_come_round_as_distinct_build_variants() -> None:
    corpus = packages(40)
    made = plan_images(LoadPlan(repositories=100, seed=3), corpus)
    names = [s.repository.rsplit("/", 1)[-1] for s in made]
    assert len(set(names)) == 100
    assert sorted(names[:40]) == sorted(p.name for p in corpus)
    assert all(n.endswith("-slim") for n in names[40:80]) and all(n.endswith("-debug") for n in names[80:])
    assert made[40].description.endswith("(slim build)")


def test_more_repositories_than_the_variants_allow_is_refused() -> None:
    with pytest.raises(ValueError, match="at most 60"):
        plan_images(LoadPlan(repositories=61), packages(10))
