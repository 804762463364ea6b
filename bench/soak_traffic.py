"""What the soak sends: notifications about manifests that exist, and a fixed set of queries.

Notifications are one-event envelopes exactly as distribution 2.8 writes
them (``tests.webhooks.samples``: pretty-printed, three spaces, anonymous
actor), each with a new event id and the current time, authenticated with
the webhook token, about tags that really are in the registry with the
digest, media type and size the registry serves (``registry_truth``). The
mix (``NotificationMix``) is that of a registry in use, where pulls far
outnumber pushes:

    pull          someone fetched the image: the indexer counts it and rewrites
                  the repository's document (popularity)
    push          the registry delivering a push again (delivery is at least once):
                  the indexer compares the digest with what it indexed
    stale delete  a tag delete whose tag exists again: the indexer asks the
                  registry (HEAD) and keeps the tag

Repositories are picked with Zipf-like popularity (a few get most events),
from a ``random.Random`` seeded per request number, so a run is reproducible
whatever the threads do. Real pushes and deletes, through the registry's own
API, are ``bench.soak_churn``'s.
"""

from __future__ import annotations

import itertools
import random
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import requests

from bench.corpus import Package
from bench.features import HTTP_FLOOR, Request, request_set
from bench.image_specs import ImageSpec
from bench.query_latency import query_set
from indexer.registry import MANIFEST_MEDIA_TYPES
from tests.webhooks.samples import DELETE_TAG, MANIFEST_PULL, MANIFEST_PUSH, V1_MEDIA_TYPE, edited, envelope

REQUEST_TIMEOUT_S = 30
TRUTH_THREADS = 4
PULL_AGENTS = ("docker/26.1.5 go/go1.22.5 git-commit/411e817 kernel/6.1.0 os/linux arch/amd64",
               "containerd/v1.7.20", "skopeo/1.9.3", "cri-o/1.30.4")
PUSH_AGENTS = ("docker/26.1.5 go/go1.22.5 git-commit/411e817 kernel/6.1.0 os/linux arch/amd64",
               "buildkit/v0.15", "skopeo/1.9.3")
EventKind = Literal["pull", "push", "stale delete"]


@dataclass(frozen=True)
class TaggedManifest:
    """One tag as the registry serves it now."""

    repository: str
    tag: str
    digest: str
    media_type: str
    size: int


def registry_truth(registry_url: str, repositories: Sequence[str]) -> dict[str, dict[str, TaggedManifest]]:
    """Every tag of ``repositories`` with what it points at, asked of the registry itself
    (``tags/list``, then ``HEAD`` per tag); a repository the registry does not know has no tags.

    HEAD, because the registry's pull notification for it is dropped by the
    receiver: reading the truth does not change the popularity it checks.
    """
    local = threading.local()

    def one(name: str) -> dict[str, TaggedManifest]:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return _repository_truth(local.session, registry_url, name)

    with ThreadPoolExecutor(TRUTH_THREADS) as pool:
        return dict(zip(repositories, pool.map(one, repositories)))


def _repository_truth(session: requests.Session, url: str, repository: str) -> dict[str, TaggedManifest]:
    listed = session.get(f"{url}/v2/{repository}/tags/list", timeout=REQUEST_TIMEOUT_S)
    if listed.status_code == 404:
        return {}
    listed.raise_for_status()
    tags = listed.json().get("tags") or []
    return {tag: _head(session, url, repository, tag) for tag in tags}


def _head(session: requests.Session, url: str, repository: str, tag: str) -> TaggedManifest:
    response = session.head(f"{url}/v2/{repository}/manifests/{tag}", timeout=REQUEST_TIMEOUT_S,
                            headers={"Accept": ", ".join(MANIFEST_MEDIA_TYPES)})
    response.raise_for_status()
    return TaggedManifest(repository, tag, response.headers["Docker-Content-Digest"],
                          response.headers["Content-Type"], int(response.headers.get("Content-Length", 0)))


@dataclass(frozen=True)
class NotificationMix:
    """Shares of the generated events by kind (they add up to 1), and how skewed popularity is:
    the ``r``-th most popular repository is picked with weight ``1 / r ** popularity_exponent``."""

    pull: float = 0.78
    push: float = 0.20
    stale_delete: float = 0.02
    popularity_exponent: float = 1.0

    def __post_init__(self) -> None:
        shares = (self.pull, self.push, self.stale_delete)
        if min(shares) < 0 or abs(sum(shares) - 1) > 1e-9 or self.popularity_exponent < 0:
            raise ValueError(f"NotificationMix shares must be non-negative and add up to 1: {self}")

    def kind(self, draw: float) -> EventKind:
        """The kind of event a uniform ``draw`` in [0, 1) stands for."""
        if draw < self.pull:
            return "pull"
        return "push" if draw < self.pull + self.push else "stale delete"


class NotificationMaker:
    """Envelope number ``n`` of a run: the same ``n`` gives the same event but for its id and time."""

    def __init__(self, manifests: Sequence[TaggedManifest], registry_url: str, mix: NotificationMix, seed: int) -> None:
        if not manifests:
            raise ValueError("no tagged manifests to notify about")
        order = list(manifests)
        random.Random(seed).shuffle(order)  # which repositories are popular: seeded, not alphabetical
        self._manifests = order
        weights = [1 / (rank + 1) ** mix.popularity_exponent for rank in range(len(order))]
        self._cumulative = list(itertools.accumulate(weights))
        self._registry_url, self._mix, self._seed = registry_url.rstrip("/"), mix, seed

    @property
    def manifests(self) -> list[TaggedManifest]:
        """Every tagged manifest events are about, most popular first."""
        return list(self._manifests)

    def envelope(self, number: int) -> tuple[EventKind, bytes]:
        """The kind and body of envelope ``number``."""
        rng = random.Random(f"{self._seed}/{number}")
        kind = self._mix.kind(rng.random())
        manifest = rng.choices(self._manifests, cum_weights=self._cumulative)[0]
        return kind, envelope(self._event(kind, manifest, rng))

    def _event(self, kind: EventKind, manifest: TaggedManifest, rng: random.Random) -> dict[str, Any]:
        if kind == "stale delete":
            event = edited(DELETE_TAG, target_repository=manifest.repository, target_tag=manifest.tag)
            return self._stamped(event, "DELETE", "curl/7.88.1")
        template, method, agents = (MANIFEST_PULL, "GET", PULL_AGENTS) if kind == "pull" else (MANIFEST_PUSH, "PUT", PUSH_AGENTS)
        event = edited(template, target_repository=manifest.repository, target_tag=manifest.tag,
                       target_digest=manifest.digest, target_mediaType=manifest.media_type,
                       target_size=manifest.size, target_length=manifest.size,
                       target_url=f"{self._registry_url}/v2/{manifest.repository}/manifests/{manifest.digest}")
        return self._stamped(event, method, rng.choice(agents))

    def _stamped(self, event: dict[str, Any], method: str, agent: str) -> dict[str, Any]:
        event["id"] = str(uuid.uuid4())
        event["timestamp"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        event["request"] = {**event["request"], "id": str(uuid.uuid4()), "method": method, "useragent": agent,
                            "host": urlsplit(self._registry_url).netloc}
        event["source"] = {**event["source"], "addr": urlsplit(self._registry_url).netloc}
        return event


def notification_headers(token: str) -> dict[str, str]:
    """The headers the registry sends with each notification: the envelope media type and the token."""
    return {"Content-Type": V1_MEDIA_TYPE, "Authorization": f"Bearer {token}"}


def soak_queries(specs: list[ImageSpec], seed: int) -> list[Request]:
    """The fixed queries of a run, shuffled with ``seed``: ``bench.features.request_set`` (search with
    facets and filters, suggest, prefix queries, docker ``/v1/search``; not its empty ``/healthz``
    floor) and ``bench.query_latency.query_set``'s categories on ``/api/v1/search``, limit 25."""
    chosen = [r for r in request_set(specs, seed) if r.feature != HTTP_FLOOR]
    packages = [Package(spec.repository.rsplit("/", 1)[-1], spec.description, "") for spec in specs]
    chosen += [Request(f"query set: {q.category}", "/api/v1/search", (("q", q.text), ("limit", "25")))
               for q in query_set(packages, seed)]
    random.Random(seed).shuffle(chosen)
    return chosen


def query_path(request: Request) -> str:
    """The path and query string of ``request``."""
    return f"{request.path}?{urlencode(request.params)}" if request.params else request.path
