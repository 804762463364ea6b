"""Fill a real registry fast with realistic images: ``python -m bench.load``.

    python -m bench.load --registry http://127.0.0.1:5000 --repositories 500 --tags 2 [--threads 16 --seed 1]

What is pushed comes from ``bench.image_specs`` (seeded, so runs compare);
this module pushes it concurrently through the registry API and reports
the rate and every failure. Each image has a distro base layer, one of a
few per architecture, stored once in ``bench.images.SEED_REPOSITORY`` and
mounted into every repository that uses it, plus one small layer of its
own. Multi-platform tags are OCI indexes whose amd64 and arm64 children are
pushed by digest. The seed repository holds blobs only, yet distribution
2.8 lists it in ``/v2/_catalog``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential
from tqdm import tqdm

from bench.corpus import debian_packages
from bench.image_specs import (
    ARCHITECTURES,
    DISTROS,
    Architecture,
    ImageSpec,
    LoadPlan,
    Progress,
    TagSpec,
    base_layer,
    image_config,
    image_index,
    image_manifest,
    manifest_annotations,
    own_layer,
    plan_images,
)
from bench.images import REQUEST_TIMEOUT_S, SEED_REPOSITORY, Blob, RegistryPusher


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
