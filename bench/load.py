"""Fill a real registry fast with realistic images: ``python -m bench.load``.

    python -m bench.load --registry http://127.0.0.1:5000 --repositories 500 --tags 2 [--threads 16 --seed 1]

Names and descriptions are Debian packages (``bench.corpus``); everything else
an image carries (namespace, team, platforms, distro base, tags, OCI and
label-schema labels, manifest annotations) is drawn from ``random.Random``
seeded by the plan's seed, the image's index and its package name, so one
seed gives the same registry content on every run over the same apt lists.

Each image has a distro base layer, one of a few per architecture, stored once
in ``bench.images.SEED_REPOSITORY`` and mounted into every repository that
uses it, plus one small layer of its own. Multi-platform tags are OCI indexes
whose amd64 and arm64 children are pushed by digest. The seed repository holds
blobs only, yet distribution 2.8 lists it in ``/v2/_catalog``.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential
from tqdm import tqdm

from bench.corpus import Package, debian_packages, pick
from bench.images import (
    OCI_CONFIG,
    OCI_MANIFEST,
    REQUEST_TIMEOUT_S,
    SEED_REPOSITORY,
    Blob,
    Layer,
    RegistryPusher,
    canonical,
    make_layer,
)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
Architecture = Literal["amd64", "arm64"]
ARCHITECTURES: tuple[Architecture, ...] = ("amd64", "arm64")
Progress = Callable[[int], None]
EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)
VENDORS = ("Example Corp", "Acme Labs", "Initech", "Globex", "The Debian Project")
LICENSES = ("Apache-2.0", "MIT", "GPL-2.0-or-later", "BSD-3-Clause", "LGPL-2.1-or-later")
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


@dataclass(frozen=True)
class Failure:
    """A tag that was not pushed after every attempt, and the last error."""

    repository: str
    tag: str
    error: str


@dataclass(frozen=True)
class LoadReport:
    """What ``load`` pushed: tags (by tag), manifests (children and indexes included), time, failures."""

    repositories: int
    tags: int
    manifests: int
    seconds: float
    failures: tuple[Failure, ...] = field(default=())

    @property
    def pushes_per_second(self) -> float:
        """Tags pushed per second of wall time."""
        return self.tags / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """One line for people."""
        return (
            f"pushed {self.tags} tags ({self.manifests} manifests) in {self.repositories} repositories "
            f"in {self.seconds:.1f} s: {self.pushes_per_second:.1f} tags/s, {len(self.failures)} failed"
        )


# --- what to push: pure functions of the corpus and the plan -----------------------------------


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
    """The ``plan.repositories`` specs for packages picked by ``plan.seed``."""
    picked = pick(packages, plan.repositories, plan.seed)
    return [image_spec(p, i, plan) for i, p in enumerate(picked)]


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


# --- pushing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pushed:
    """The manifest (or index) a tag now points at, and how many manifests were PUT for it."""

    manifest: Blob
    manifests: int


class ImagePusher(RegistryPusher):
    """Pushes ``ImageSpec`` tags with ``RegistryPusher``'s keep-alive sessions; safe to share between threads."""

    def seed_bases(self) -> None:
        """Store every distro base layer once, in ``SEED_REPOSITORY``, for repositories to mount."""
        for distro in DISTROS:
            for architecture in ARCHITECTURES:
                self._upload(SEED_REPOSITORY, base_layer(distro, architecture).blob)

    def mount_bases(self, spec: ImageSpec) -> None:
        """Mount the base layers ``spec``'s platforms need into its repository."""
        for architecture in spec.platforms:
            self._mount(spec.repository, base_layer(spec.distro, architecture).blob)

    def push_tag(self, spec: ImageSpec, tag: TagSpec) -> Pushed:
        """Push ``spec:tag``: its blobs, then its image manifest, or its children and their index."""
        annotations = manifest_annotations(spec, tag)
        if not spec.multi_platform:
            manifest = self._image(spec, tag, spec.platforms[0], annotations)
            self.put_manifest(spec.repository, tag.tag, manifest)
            return Pushed(manifest, 1)
        children = [(arch, self._image(spec, tag, arch, annotations)) for arch in spec.platforms]
        for _, child in children:
            self.put_manifest(spec.repository, child.digest, child)
        index = image_index(children, annotations)
        self.put_manifest(spec.repository, tag.tag, index)
        return Pushed(index, len(children) + 1)

    def put_manifest(self, repository: str, reference: str, manifest: Blob) -> Pushed:
        """PUT ``manifest`` (whose blobs the repository holds) as ``repository:reference``."""
        response = self._session().put(
            f"{self.url}/v2/{repository}/manifests/{reference}", data=manifest.data,
            headers={"Content-Type": manifest.media_type}, timeout=REQUEST_TIMEOUT_S,
        )
        if response.status_code != 201:
            raise RuntimeError(f"PUT {response.url} answered {response.status_code}: {response.text[:500]}")
        return Pushed(manifest, 1)

    def _image(self, spec: ImageSpec, tag: TagSpec, architecture: Architecture, annotations: dict[str, str]) -> Blob:
        layers = (base_layer(spec.distro, architecture), own_layer(spec, tag, architecture))
        config = image_config(spec, tag, architecture, layers)
        self._upload(spec.repository, layers[1].blob)
        self._upload(spec.repository, config)
        return image_manifest(config, layers, annotations)


@dataclass(frozen=True)
class _Outcome:
    tags: int
    manifests: int
    failures: tuple[Failure, ...]


def load(
    registry_url: str, plan: LoadPlan, progress: Progress | None = None, images: Sequence[ImageSpec] | None = None
) -> LoadReport:
    """Push every tag of ``images`` (default: ``plan_images`` over the Debian corpus) with ``plan.threads`` threads.

    ``progress`` is called from the calling thread with the number of tags each
    finished repository accounted for (pushed or failed). Every tag is either
    counted as pushed or listed in ``failures``; the seeding of base layers is
    retried too, and raises if it still fails, since no image can be pushed without it.
    """
    specs = list(images) if images is not None else plan_images(plan, debian_packages())
    pusher = ImagePusher(registry_url)
    started = time.monotonic()
    _retrying(plan)(pusher.seed_bases)
    outcomes = []
    with ThreadPoolExecutor(max_workers=plan.threads, thread_name_prefix="bench-load") as pool:
        futures = [pool.submit(_push_repository, pusher, spec, plan) for spec in specs]
        for future in as_completed(futures):
            outcomes.append(future.result())
            if progress is not None:
                progress(outcomes[-1].tags + len(outcomes[-1].failures))
    return _report(outcomes, time.monotonic() - started)


def _push_repository(pusher: ImagePusher, spec: ImageSpec, plan: LoadPlan) -> _Outcome:
    retrying = _retrying(plan)
    try:
        retrying(pusher.mount_bases, spec)
    except Exception as error:  # every tag of the repository is reported failed
        return _Outcome(0, 0, tuple(Failure(spec.repository, t.tag, _describe(error)) for t in spec.tags))
    tags, manifests, failures = 0, 0, []
    newest: tuple[str, Pushed] | None = None
    for tag in spec.tags:
        try:
            newest = _push_tag(pusher, spec, tag, newest, retrying)
        except Exception as error:  # counted as a failure, never dropped
            failures.append(Failure(spec.repository, tag.tag, _describe(error)))
            continue
        tags, manifests = tags + 1, manifests + newest[1].manifests
    return _Outcome(tags, manifests, tuple(failures))


def _push_tag(
    pusher: ImagePusher, spec: ImageSpec, tag: TagSpec, newest: tuple[str, Pushed] | None, retrying: Retrying
) -> tuple[str, Pushed]:
    # "latest" is the newest version's very manifest: tagging it again costs one PUT, not a push
    if newest is not None and newest[0] == tag.version:
        return tag.version, retrying(pusher.put_manifest, spec.repository, tag.tag, newest[1].manifest)
    return tag.version, retrying(pusher.push_tag, spec, tag)


def _retrying(plan: LoadPlan) -> Retrying:
    return Retrying(
        stop=stop_after_attempt(plan.attempts),
        wait=wait_exponential(multiplier=0.2, max=2.0),
        retry=retry_if_exception_type((requests.RequestException, RuntimeError)),
        reraise=True,
    )


def _report(outcomes: Sequence[_Outcome], seconds: float) -> LoadReport:
    return LoadReport(
        repositories=sum(1 for o in outcomes if o.tags),
        tags=sum(o.tags for o in outcomes),
        manifests=sum(o.manifests for o in outcomes),
        seconds=seconds,
        failures=tuple(f for o in outcomes for f in o.failures),
    )


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


# --- command line ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line of ``python -m bench.load``."""
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--registry", required=True, help="base URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--repositories", type=int, required=True)
    parser.add_argument("--tags", type=int, required=True, help="tags per repository")
    parser.add_argument("--threads", type=int, default=LoadPlan.threads)
    parser.add_argument("--seed", type=int, default=LoadPlan.seed)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Load the registry, print the report; exit status 1 when any tag failed."""
    args = parse_args(argv)
    plan = LoadPlan(repositories=args.repositories, tags_per_repo=args.tags, threads=args.threads, seed=args.seed)
    images = plan_images(plan, debian_packages())
    with tqdm(total=plan.repositories * plan.tags_per_repo, unit="tag", desc="pushing") as bar:
        report = load(args.registry, plan, progress=bar.update, images=images)
    print(report.summary())
    for failure in report.failures[:20]:
        print(f"failed {failure.repository}:{failure.tag}: {failure.error}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
