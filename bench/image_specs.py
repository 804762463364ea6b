"""What ``bench.load`` pushes: realistic image specifications, pure functions of a seed.

Names and descriptions are Debian packages (``bench.corpus``); everything else
an image carries (namespace, team from the package's Debian section,
platforms, distro base, tags, OCI and label-schema labels, manifest
annotations) is drawn from ``random.Random`` seeded by the plan's seed, the
image's index and its package name, so one seed gives the same registry
content on every run over the same apt lists. Nothing here talks to a
registry: the blobs and manifests are built as bytes, ``bench.load`` pushes
them.
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from bench.corpus import Package
from bench.images import OCI_CONFIG, OCI_MANIFEST, Blob, Layer, canonical, make_layer

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
Architecture = Literal["amd64", "arm64"]
ARCHITECTURES: tuple[Architecture, ...] = ("amd64", "arm64")
Progress = Callable[[int], None]
EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)
VENDORS = ("Example Corp", "Acme Labs", "Initech", "Globex", "The Debian Project")
LICENSES = ("Apache-2.0", "MIT", "GPL-2.0-or-later", "BSD-3-Clause", "LGPL-2.1-or-later")
VARIANTS = ("", "-slim", "-debug", "-static", "-fips", "-nightly")
"""Suffixes of repository names once the corpus is used up: the same software in another build."""
_NOT_IN_NAME = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Distro:
    """A base image: its short name, the reference it would be pulled by, and how common it is."""

    name: str
    reference: str
    weight: int


DISTROS = (
    Distro("debian", "docker.io/library/debian:bookworm-slim", 35),
    Distro("alpine", "docker.io/library/alpine:3.20", 25),
    Distro("ubuntu", "docker.io/library/ubuntu:24.04", 20),
    Distro("busybox", "docker.io/library/busybox:1.36", 10),
    Distro("fedora", "registry.fedoraproject.org/fedora:40", 10),
)


@dataclass(frozen=True)
class LoadPlan:
    """How many repositories and tags to push, how, and the mix of what they look like.

    Shares are probabilities per repository: ``library_share`` of names go under
    ``library/``, ``team_share`` under ``team-<Debian section>/``, the rest have
    no namespace; ``multi_platform_share`` are amd64+arm64 indexes,
    ``arm64_share`` arm64 only, the rest amd64 only; ``label_schema_share``
    also carry the older ``org.label-schema.*`` labels. A push that fails is
    tried ``attempts`` times in all, then reported as a failure.
    """

    repositories: int = 100
    tags_per_repo: int = 2
    threads: int = 16  # measured: 8 and 16 beat 4 and 32 on 2 cores, 16 by a little
    seed: int = 1
    library_share: float = 0.2
    team_share: float = 0.4
    multi_platform_share: float = 0.1
    arm64_share: float = 0.15
    label_schema_share: float = 0.25
    attempts: int = 3

    def __post_init__(self) -> None:
        for name in ("repositories", "tags_per_repo", "threads", "attempts"):
            if getattr(self, name) < 1:
                raise ValueError(f"LoadPlan.{name} must be at least 1, not {getattr(self, name)}")
        for name in ("library_share", "team_share", "multi_platform_share", "arm64_share", "label_schema_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"LoadPlan.{name} must be within 0..1, not {getattr(self, name)}")
        if self.library_share + self.team_share > 1 or self.multi_platform_share + self.arm64_share > 1:
            raise ValueError("namespace shares and platform shares must each add up to at most 1")


@dataclass(frozen=True)
class TagSpec:
    """One tag and the version and build time its image says it has (``latest`` repeats the newest)."""

    tag: str
    version: str
    created: str


@dataclass(frozen=True)
class ImageSpec:
    """One repository to push: what its images say about themselves, on which platforms, and its tags.

    ``labels`` are the config labels every tag shares; per-tag labels come from ``tag_labels``.
    """

    repository: str
    description: str
    team: str
    distro: Distro
    platforms: tuple[Architecture, ...]
    label_schema: bool
    labels: tuple[tuple[str, str], ...]
    tags: tuple[TagSpec, ...]

    @property
    def multi_platform(self) -> bool:
        return len(self.platforms) > 1




def image_spec(package: Package, index: int, plan: LoadPlan) -> ImageSpec:
    """The repository built from ``package`` as the ``index``-th of ``plan``.

    Depends only on its arguments: the same ones give the same spec.
    """
    rng = random.Random(f"{plan.seed}/{index}/{package.name}")
    team = team_name(package.section)
    distro = rng.choices(DISTROS, weights=[d.weight for d in DISTROS])[0]
    label_schema = rng.random() < plan.label_schema_share
    return ImageSpec(
        repository=_namespace(rng.random(), team, plan) + package.name,
        description=package.description,
        team=team,
        distro=distro,
        platforms=_platforms(rng.random(), plan),
        label_schema=label_schema,
        labels=tuple(sorted(_repository_labels(package, team, distro, rng, label_schema).items())),
        tags=tag_specs(rng, plan.tags_per_repo),
    )


def plan_images(plan: LoadPlan, packages: list[Package]) -> list[ImageSpec]:
    """The first ``plan.repositories`` specs in ``plan.seed``'s order of ``packages``.

    A smaller plan with the same seed and mix is a prefix of a larger one, so
    the benchmark's sizes hold the same kind of content. Past the end of the
    corpus, packages come round again as build variants (``<name>-slim`` …).
    """
    order = list(packages)
    random.Random(plan.seed).shuffle(order)
    if plan.repositories > len(order) * len(VARIANTS):
        raise ValueError(f"asked for {plan.repositories} repositories, the corpus gives at most {len(order) * len(VARIANTS)}")
    return [image_spec(variant(order, i), i, plan) for i in range(plan.repositories)]


def variant(order: Sequence[Package], index: int) -> Package:
    """The ``index``-th package of ``order``, as a build variant once ``order`` has been used up."""
    package = order[index % len(order)]
    suffix = VARIANTS[index // len(order)]
    if not suffix:
        return package
    return Package(f"{package.name}{suffix}", f"{package.description} ({suffix[1:]} build)", package.section)


def team_name(section: str) -> str:
    """``team-<section>`` from a Debian section such as ``python`` or ``contrib/net``."""
    name = _NOT_IN_NAME.sub("-", section.rsplit("/", 1)[-1].lower()).strip("-")
    return f"team-{name or 'misc'}"


def tag_specs(rng: random.Random, count: int) -> tuple[TagSpec, ...]:
    """``count`` distinct tags, oldest first: semver or calver versions, then ``latest``."""
    created = EPOCH + timedelta(days=rng.randint(0, 700), seconds=rng.randint(0, 86399))
    calver = rng.random() < 0.3
    version = (rng.randint(0, 5), rng.randint(0, 20), rng.randint(0, 9))
    tags = []
    for _ in range(count - 1):
        name = f"{created.year}.{created.month:02d}" if calver else "%d.%d.%d" % version
        tags.append(TagSpec(name, name, _timestamp(created)))
        created += timedelta(days=rng.randint(32, 90))  # 32 days or more: the next calver month differs
        version = _next_version(version, rng)
    newest = tags[-1] if tags else TagSpec("latest", "1.0.0", _timestamp(created))
    return (*tags, TagSpec("latest", newest.version, newest.created))


def tag_labels(spec: ImageSpec, tag: TagSpec) -> dict[str, str]:
    """Every config label of ``spec:tag``: the repository's and the build's own."""
    labels = dict(spec.labels)
    labels.update(_build_annotations(spec, tag))
    if spec.label_schema:
        labels.update({"org.label-schema.version": tag.version, "org.label-schema.build-date": tag.created})
    return labels


def base_layer(distro: Distro, architecture: Architecture) -> Layer:
    """The base layer every ``distro`` image for ``architecture`` shares."""
    return _base_layer(distro.name, architecture)


def own_layer(spec: ImageSpec, tag: TagSpec, architecture: Architecture) -> Layer:
    """The layer only the ``architecture`` image of ``spec`` at ``tag.version`` has."""
    content = f"{spec.repository} {tag.version} {architecture}\n{spec.description}\n".encode()
    return make_layer(spec.repository, content)


def image_config(spec: ImageSpec, tag: TagSpec, architecture: Architecture, layers: Sequence[Layer]) -> Blob:
    """The OCI image config blob of one platform's image of ``spec:tag``."""
    config = {
        "created": tag.created,
        "architecture": architecture,
        "os": "linux",
        "config": {"Labels": tag_labels(spec, tag), "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": tag.created, "created_by": f"FROM {spec.distro.reference}"},
                    {"created": tag.created, "created_by": f"COPY {spec.repository} /"}],
    }
    return Blob(canonical(config), OCI_CONFIG)


def image_manifest(config: Blob, layers: Sequence[Layer], annotations: dict[str, str]) -> Blob:
    """The OCI image manifest of ``config`` and ``layers``."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.blob.descriptor() for layer in layers],
        "annotations": annotations,
    }
    return Blob(canonical(manifest), OCI_MANIFEST)


def image_index(children: Sequence[tuple[Architecture, Blob]], annotations: dict[str, str]) -> Blob:
    """The OCI image index of one child manifest per platform."""
    manifests = [{**child.descriptor(), "platform": {"os": "linux", "architecture": arch}} for arch, child in children]
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests, "annotations": annotations}
    return Blob(canonical(index), OCI_INDEX)


def manifest_annotations(spec: ImageSpec, tag: TagSpec) -> dict[str, str]:
    """The ``org.opencontainers.image.*`` annotations of ``spec:tag``'s manifest (or index)."""
    return {**_build_annotations(spec, tag), "org.opencontainers.image.base.name": spec.distro.reference}


def _namespace(draw: float, team: str, plan: LoadPlan) -> str:
    if draw < plan.library_share:
        return "library/"
    return f"{team}/" if draw < plan.library_share + plan.team_share else ""


def _platforms(draw: float, plan: LoadPlan) -> tuple[Architecture, ...]:
    if draw < plan.multi_platform_share:
        return ARCHITECTURES
    return ("arm64",) if draw < plan.multi_platform_share + plan.arm64_share else ("amd64",)


def _repository_labels(
    package: Package, team: str, distro: Distro, rng: random.Random, label_schema: bool
) -> dict[str, str]:
    vendor, licence = rng.choice(VENDORS), rng.choice(LICENSES)
    source = f"https://salsa.debian.org/debian/{package.name}"
    labels = {
        "org.opencontainers.image.title": package.name,
        "org.opencontainers.image.description": package.description,
        "org.opencontainers.image.authors": f"{team}@example.com",
        "org.opencontainers.image.url": f"https://packages.debian.org/{package.name}",
        "org.opencontainers.image.source": source,
        "org.opencontainers.image.vendor": vendor,
        "org.opencontainers.image.licenses": licence,
        "org.opencontainers.image.base.name": distro.reference,
        "com.example.team": team,
    }
    if label_schema:
        labels.update({
            "org.label-schema.schema-version": "1.0", "org.label-schema.name": package.name,
            "org.label-schema.description": package.description, "org.label-schema.vendor": vendor,
            "org.label-schema.license": licence, "org.label-schema.vcs-url": source + ".git",
        })
    return labels


def _build_annotations(spec: ImageSpec, tag: TagSpec) -> dict[str, str]:
    revision = hashlib.sha1(f"{spec.repository}@{tag.version}".encode()).hexdigest()
    return {
        "org.opencontainers.image.version": tag.version,
        "org.opencontainers.image.created": tag.created,
        "org.opencontainers.image.revision": revision,
    }


def _next_version(version: tuple[int, int, int], rng: random.Random) -> tuple[int, int, int]:
    major, minor, patch = version
    return (major, minor + 1, 0) if rng.random() < 0.25 else (major, minor, patch + 1)


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.cache
def _base_layer(distro: str, architecture: Architecture) -> Layer:
    return make_layer(f"{distro}-{architecture}", f"{distro} {architecture} root filesystem\n".encode() * 256)
