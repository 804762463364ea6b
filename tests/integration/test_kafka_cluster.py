"""Distributed mode: separate webhooks, indexer and search-api processes on a real Kafka broker."""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from bench.images import RegistryPusher, RepositorySpec
from tests.support.kafka import BrokerProcess, unique_prefix
from tests.support.oci import OciBuilder, delete, push
from tests.support.registry import RegistryProcess
from tests.support.service import ServiceProcess

pytestmark = pytest.mark.integration

TOKEN = "cluster-token"


@dataclass
class Cluster:
    tmp: Path
    bootstrap: str
    registry: RegistryProcess
    webhooks: ServiceProcess
    indexers: list[ServiceProcess]
    replicas: list[ServiceProcess]
    prefix: str = field(default_factory=unique_prefix)

    def kafka_args(self) -> list[str]:
        return ["--kafka-bootstrap", self.bootstrap, "--topic-prefix", self.prefix, "--kafka-partitions", "4"]

    def process(self, role: str, name: str) -> ServiceProcess:
        service = ServiceProcess(self.tmp / name, self.registry.url, token=TOKEN, role=role, extra=self.kafka_args())
        service.start()
        return service

    def add_replica(self) -> ServiceProcess:
        replica = self.process("search-api", f"replica-{len(self.replicas) + 1}")
        self.replicas.append(replica)
        return replica

    def all(self) -> list[ServiceProcess]:
        return [self.webhooks, *self.indexers, *self.replicas]

    def diagnosis(self) -> str:
        """What each process logged that was not routine client chatter, for a failure's message."""
        chatter = re.compile(r" INFO kafka\.(net|conn|cluster|consumer\.fetcher|producer)")
        return "\n".join(
            f"--- {service.log_path.name}\n" + "\n".join(
                line[:300] for line in service.log().splitlines() if not chatter.search(line)
            )[-3000:]
            for service in [*self.replicas, self.webhooks, *self.indexers]  # the indexers' last: nearest the end
        )


def tag_total(replica: ServiceProcess, q: str = "") -> int:
    return int(replica.get("/api/v1/search", q=q, kind="tag", limit=1).json()["total"])


def wait_everywhere(cluster: Cluster, check: Callable[[ServiceProcess], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    pending = list(cluster.replicas)
    while pending and time.monotonic() < deadline:
        pending = [r for r in pending if not check(r)]
        time.sleep(0.2)
    assert not pending, f"{len(pending)} replicas never agreed; the cluster's logs:\n{cluster.diagnosis()}"


@pytest.fixture
def cluster(
    kafka_bootstrap: str, registry_factory: Callable[..., RegistryProcess], tmp_path: Path
) -> Iterator[Cluster]:
    yield from start_cluster(kafka_bootstrap, registry_factory, tmp_path)


def start_cluster(bootstrap: str, registry_factory: Callable[..., RegistryProcess], tmp_path: Path) -> Iterator[Cluster]:
    hooks = ServiceProcess(tmp_path / "webhooks", "", token=TOKEN, role="webhooks")
    registry = registry_factory(notify_url=hooks.notify_url, notify_token=TOKEN)
    cluster = Cluster(tmp_path, bootstrap, registry, hooks, [], [])
    hooks.registry_url = registry.url
    hooks.extra = cluster.kafka_args()
    try:
        hooks.start()
        cluster.indexers = [cluster.process("indexer", f"indexer-{i}") for i in (1, 2)]
        for _ in range(2):
            cluster.add_replica()
        yield cluster
    finally:
        for service in cluster.all():
            service.stop()


def specs(count: int, seed: int) -> list[RepositorySpec]:
    rng = random.Random(seed)
    words = ["alpine", "postgres", "nginx", "redis", "kafka", "python", "golang", "node"]
    return [
        RepositorySpec(f"burst/{rng.choice(words)}-{i}", f"Burst {i}", f"image number {i} of the burst", ("v1",))
        for i in range(count)
    ]


def test_pushes_become_searchable_on_every_replica(cluster: Cluster, oci_builder: OciBuilder) -> None:
    built = oci_builder.image(tag="1.0", config={"labels": {"org.opencontainers.image.description": "Spread out"}})
    push(built.path, "1.0", f"{cluster.registry.host}/dist/app:1.0")
    wait_everywhere(cluster, lambda r: r.get("/api/v1/search", q="spread").json()["total"] == 1)
    docker = [r.get("/v1/search", q="app").json()["results"] for r in cluster.replicas]
    assert docker[0] == docker[1] and docker[0][0]["name"] == "dist/app"
    assert all(s.get("/healthz").status_code == 200 for s in cluster.all())
    assert all(r.get("/readyz").status_code == 200 for r in cluster.replicas)


def test_pull_counts_survive_indexer_restarts(cluster: Cluster, oci_builder: OciBuilder) -> None:
    built = oci_builder.image(tag="1")
    push(built.path, "1", f"{cluster.registry.host}/pulled/app:1")
    wait_everywhere(cluster, lambda r: tag_total(r, "pulled") == 1)

    def pull() -> None:
        accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
        requests.get(f"{cluster.registry.url}/v2/pulled/app/manifests/1", headers=accept, timeout=5)

    pulls = lambda r: r.get("/api/v1/repositories/pulled/app").json()["pulls"]  # noqa: E731
    pull(), pull()
    wait_everywhere(cluster, lambda r: pulls(r) == 2)
    for indexer in cluster.indexers:
        assert indexer.stop() == 0  # SIGTERM: finish the batch, commit, leave the group
        indexer.start()
    pull()
    wait_everywhere(cluster, lambda r: pulls(r) == 3)


def test_kill_9_an_indexer_mid_burst_loses_nothing(cluster: Cluster) -> None:
    pusher = RegistryPusher(cluster.registry.url)
    pusher.seed()
    burst = specs(200, seed=7)
    with ThreadPoolExecutor(8) as pool:
        first = list(pool.map(pusher.push, burst[:60]))
        cluster.indexers[0].kill()
        rest = list(pool.map(pusher.push, burst[60:]))
    assert len(first) + len(rest) == 200
    deleted = burst[::10]
    for spec in deleted:
        delete(cluster.registry.url, spec.name, "v1")
    expected = 200 - len(deleted)
    wait_everywhere(cluster, lambda r: tag_total(r, "burst") == expected, timeout=180)
    for replica in cluster.replicas:
        for spec in deleted[:5]:
            assert replica.get(f"/api/v1/repositories/{spec.name}").status_code == 404
        kept = burst[1]
        assert replica.get(f"/api/v1/repositories/{kept.name}").json()["tags"][0]["tag"] == "v1"


def test_a_replica_started_later_rebuilds_from_the_compacted_topic(cluster: Cluster, oci_builder: OciBuilder) -> None:
    for name in ("late/one", "late/two"):
        built = oci_builder.image(tag="x", layers=[name.encode()])
        push(built.path, "x", f"{cluster.registry.host}/{name}:x")
    delete(cluster.registry.url, "late/two", "x")
    wait_everywhere(cluster, lambda r: [h["name"] for h in r.get("/api/v1/search", q="late").json()["results"]] == ["late/one"])
    third = cluster.add_replica()
    deadline = time.monotonic() + 60
    while third.get("/readyz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert third.get("/readyz").status_code == 200
    answers = [r.get("/api/v1/search", q="late").json() for r in cluster.replicas]
    assert answers[2] == answers[0]


def test_the_same_notification_twice_gives_one_document(cluster: Cluster, oci_builder: OciBuilder) -> None:
    built = oci_builder.image(tag="1", layers=[b"twice"])
    push(built.path, "1", f"{cluster.registry.host}/twice/app:1")
    wait_everywhere(cluster, lambda r: tag_total(r, "twice") == 1)
    event = {"id": "dup-1", "action": "push", "target": {
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "repository": "twice/app", "tag": "1",
        "digest": built.digest}}
    body = json.dumps({"events": [event]})
    assert [cluster.webhooks.notify(body).status_code for _ in range(2)] == [202, 202]
    time.sleep(2)
    assert all(tag_total(r, "twice") == 1 for r in cluster.replicas)


def test_broker_outage_is_503_then_the_registry_retries_deliver(
    registry_factory: Callable[..., RegistryProcess], tmp_path: Path, oci_builder: OciBuilder
) -> None:
    with BrokerProcess(tmp_path / "broker") as broker:
        for cluster in start_cluster(broker.bootstrap, registry_factory, tmp_path):
            broker.stop()
            started = time.monotonic()
            answer = cluster.webhooks.notify(json.dumps({"events": [{"id": "o-1", "action": "push",
                                                                   "target": {"repository": "x/y", "tag": "1"}}]}))
            assert answer.status_code == 503 and time.monotonic() - started < 1.5
            built = oci_builder.image(tag="1", layers=[b"during the outage"])
            push(built.path, "1", f"{cluster.registry.host}/outage/app:1")  # its notification now waits in the registry
            broker.start()
            wait_everywhere(cluster, lambda r: tag_total(r, "outage") == 1, timeout=120)
