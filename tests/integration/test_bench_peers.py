"""The catalog-walk peer against a real registry: every page walked, every match counted, names ranked,
and timed by ``compare`` beside the other peers, with the queries it cannot answer reported as such."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.compare import compare
from bench.images import RegistryPusher, RepositorySpec
from bench.peers import BenchQuery, CatalogWalk, PeerAnswer, Unsupported
from tests.bench.test_compare import write_data_dir
from tests.bench.test_peers import DOCUMENTS, NAMES, NGINX, NO_MATCH
from tests.support.registry import RegistryProcess

pytestmark = pytest.mark.integration

PAGE = 2
WALK_ANSWERS = {
    "proxy": PeerAnswer(1, ("bench/nginx-proxy",)),
    "nginx proxy": PeerAnswer(1, ("bench/nginx-proxy",)),
    "ngin*": PeerAnswer(3, NGINX),
    "nginx": PeerAnswer(3, NGINX),
    "redis": PeerAnswer(2, ("library/redis", "lab/redisx")),
    "library/redis": PeerAnswer(1, ("library/redis",)),
    "web_app": PeerAnswer(1, ("team/web_app",)),
    "web%app": NO_MATCH,
    "o'brien": NO_MATCH,
    '"bob': NO_MATCH,
    "server": NO_MATCH,
    "zzqxjvw": NO_MATCH,
    "": PeerAnswer(len(NAMES), ("lab/redisx", "team/web_app", "team/webxapp")),
}


@pytest.fixture
def walk(registry: RegistryProcess) -> Iterator[CatalogWalk]:
    """A catalog walk with pages of ``PAGE`` over a registry holding every repository of ``DOCUMENTS``."""
    pusher = RegistryPusher(registry.url)
    for doc in DOCUMENTS:
        pusher.push(RepositorySpec(doc.name, doc.title or "", doc.description or "", ("latest",)))
    peer = CatalogWalk(registry.url, page=PAGE)
    yield peer
    peer.close()


def test_the_walk_matches_names_only_ranks_them_and_follows_every_page(walk: CatalogWalk) -> None:
    answers = {q: walk.search(q, 3) for q in WALK_ANSWERS}
    assert answers == WALK_ANSWERS
    assert walk.pages_walked == -(-len(NAMES) // PAGE)
    assert sorted(walk.catalog()) == sorted(NAMES)


def test_the_walk_refuses_an_arch_filter_but_not_an_empty_one(walk: CatalogWalk) -> None:
    with pytest.raises(Unsupported):
        walk.search("", 3, arch="amd64")
    assert walk.search("", 3, arch="") == WALK_ANSWERS[""]


def test_compare_times_the_walk_beside_the_others_and_marks_filtered_queries_unsupported(
    walk: CatalogWalk, tmp_path: Path
) -> None:
    queries = [BenchQuery("word", "nginx"), BenchQuery("word", "redis"), BenchQuery("filtered", "nginx", "arm64")]
    result = compare(write_data_dir(tmp_path / "data"), queries, 3, rounds=2, catalog=walk, catalog_rounds=1)
    figures = result["peers"]["catalog walk"]
    assert list(result["peers"]) == ["registry-search", "sql like", "sql fts5", "catalog walk"]
    assert figures["latency_ms"]["count"] == 2 and list(figures["by_category_ms"]) == ["word"]
    assert figures["unsupported"] == {"filtered": 1} and figures["requests_per_s"] > 0
    assert figures["totals"] == {"nginx": 3, "redis": 2, "nginx [arch=arm64]": None}
    assert set(figures["vs_registry_search"]) == {"median", "p99"}
    assert result["peers"]["sql like"]["totals"]["nginx [arch=arm64]"] == 2
    assert walk.search("redis", 3) == WALK_ANSWERS["redis"], "compare leaves the caller's walk open"
