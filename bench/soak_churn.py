"""Real pushes and deletes during the soak, through the registry's own API.

A few repositories under ``soak-churn/`` each hold two versions (two
manifests, each tagged with its version) and ``latest`` on one of them. Each
operation is one request to the registry, which then sends its own
notification, so these are changes the indexer has to fetch:

    move latest  PUT the other version's manifest as ``latest`` (a push notification;
                 the indexer fetches that digest and re-indexes the tag)
    delete       DELETE the version ``latest`` is not on, by digest (delete
                 notifications; the indexer finds its version tag gone)
    re-push      PUT that manifest again under its version tag: the next
                 operation on a repository after a delete

Operations go round the repositories; every ``delete_every``-th one on a
repository is a delete. A whole image push (blobs and manifests, 5 to 10
requests) is what ``bench.freshness`` times; moving a tag is what a CI
pipeline does most, at a registry cost (one manifest PUT) that 2 cores can
keep up at a few per second beside everything else. The namespace is
removed from a kept registry's storage after the run (``forget_namespace``).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import requests

from bench.image_specs import ImageSpec, tag_specs
from bench.images import REQUEST_TIMEOUT_S, Blob
from bench.load import ImagePusher
from bench.open_loop import OK, Send

CHURN_NAMESPACE = "soak-churn"
OperationKind = Literal["move latest", "delete", "re-push"]


class ChurnPusher(ImagePusher):
    """``ImagePusher`` that can also delete a manifest by digest."""

    def delete_manifest(self, repository: str, digest: str) -> None:
        """DELETE ``repository@digest``; the registry removes every tag on it. Raises unless 202."""
        response = self._session().delete(f"{self.url}/v2/{repository}/manifests/{digest}", timeout=REQUEST_TIMEOUT_S)
        if response.status_code != 202:
            raise RuntimeError(f"DELETE {response.url} answered {response.status_code}: {response.text[:300]}")


@dataclass(frozen=True)
class Version:
    """One version of a churned repository: its tag and its manifest (or index)."""

    tag: str
    manifest: Blob


@dataclass(frozen=True)
class Operation:
    """What to do next to a repository, and to which of its two versions."""

    kind: OperationKind
    version: int


@dataclass
class ChurnRepository:
    """A repository under churn and what it holds now: which version ``latest`` is on, which (if any) is deleted."""

    name: str
    versions: tuple[Version, Version]
    latest: int = 1
    deleted: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def next_operation(self, count: int, delete_every: int) -> Operation:
        """The operation number ``count`` on this repository: a re-push after a delete, a delete of the
        version ``latest`` is not on every ``delete_every``-th time (never when 0), else a move of ``latest``."""
        if self.deleted is not None:
            return Operation("re-push", self.deleted)
        other = 1 - self.latest
        if delete_every and count % delete_every == delete_every - 1:
            return Operation("delete", other)
        return Operation("move latest", other)

    def apply(self, pusher: ChurnPusher, operation: Operation) -> None:
        """Do ``operation`` through the registry API; the state changes only once it succeeded."""
        version = self.versions[operation.version]
        if operation.kind == "move latest":
            pusher.put_manifest(self.name, "latest", version.manifest)
            self.latest = operation.version
        elif operation.kind == "delete":
            pusher.delete_manifest(self.name, version.manifest.digest)
            self.deleted = operation.version
        else:
            pusher.put_manifest(self.name, version.tag, version.manifest)
            self.deleted = None


def churn_specs(specs: Sequence[ImageSpec], seed: int) -> list[ImageSpec]:
    """``specs`` renamed into ``soak-churn/<name>-<i>``, each with two versions and ``latest``."""
    renamed = []
    for number, spec in enumerate(specs):
        name = f"{CHURN_NAMESPACE}/{spec.repository.rsplit('/', 1)[-1]}-{number}"
        renamed.append(replace(spec, repository=name, tags=tag_specs(random.Random(f"{seed}/{name}"), 3)))
    return renamed


def push_churn(pusher: ChurnPusher, specs: Sequence[ImageSpec]) -> list[ChurnRepository]:
    """Push both versions of every spec of ``churn_specs`` and put ``latest`` on the second."""
    pusher.seed_bases()
    repositories = []
    for spec in specs:
        pusher.mount_bases(spec)
        first, second = (Version(tag.tag, pusher.push_tag(spec, tag).manifest) for tag in spec.tags[:2])
        pusher.put_manifest(spec.repository, "latest", second.manifest)
        repositories.append(ChurnRepository(spec.repository, (first, second)))
    return repositories


def churn_sender(repositories: Sequence[ChurnRepository], delete_every: int) -> Send[ChurnPusher]:
    """The open loop's send: operation ``n`` goes to repository ``n mod len(repositories)``."""
    def send(pusher: ChurnPusher, number: int) -> tuple[str, str]:
        repository = repositories[number % len(repositories)]
        with repository.lock:
            operation = repository.next_operation(number // len(repositories), delete_every)
            try:
                repository.apply(pusher, operation)
            except (requests.RequestException, RuntimeError) as error:
                return operation.kind, type(error).__name__
        return operation.kind, OK

    return send
