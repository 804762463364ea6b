"""``compare`` times every peer on the same queries and reports them side by side, filters included.

The data directory is what ``regsearch serve`` leaves: a document log and
an index, written here from the hand-made documents of ``test_peers``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.compare import InProcessSearch, compare, repository_documents
from bench.peers import BenchQuery, CatalogWalk, PeerAnswer
from indexer.documents import document_to_json
from indexer.index import SearchIndex
from regsearch.logs import Message
from regsearch.logs.sqlite import SqliteLog
from tests.bench.test_peers import DOCUMENTS

QUERIES = (
    BenchQuery("word", "nginx"),
    BenchQuery("word", "redis"),
    BenchQuery("filtered", "nginx", "arm64"),
    BenchQuery("filtered", "", "arm"),
    BenchQuery("filtered", "", "mips"),
)
ROUNDS = 3
SQL_PEERS = ("registry-search", "sql like", "sql fts5")


def write_data_dir(data: Path) -> Path:
    """``data`` made a service data directory holding ``DOCUMENTS`` in its document log and its index."""
    data.mkdir(parents=True, exist_ok=True)
    log = SqliteLog(data / "documents.sqlite3", compacted=True, fsync=False)
    log.append([Message(doc.doc_id, document_to_json(doc)) for doc in DOCUMENTS])
    log.close()
    index = SearchIndex.open(data / "index")
    index.apply([(doc.doc_id, doc) for doc in DOCUMENTS], {0: len(DOCUMENTS)})
    index.close()
    return data


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_data_dir(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def compared(data_dir: Path) -> dict[str, Any]:
    return compare(data_dir, QUERIES, 10, ROUNDS)


def test_the_data_directory_yields_every_repository_document(data_dir: Path) -> None:
    assert sorted(doc.name for doc in repository_documents(data_dir)) == sorted(doc.name for doc in DOCUMENTS)


def test_in_process_search_passes_the_architecture_to_the_index(data_dir: Path) -> None:
    search = InProcessSearch(data_dir / "index")
    assert search.search("nginx", 10, arch="arm64") == PeerAnswer(2, ("library/nginx", "tools/nginx-exporter"))
    assert search.search("nginx", 10).total == 3
    search.close()


def test_every_peer_ran_every_query_every_round(compared: dict[str, Any]) -> None:
    assert compared["documents"] == len(DOCUMENTS) and compared["rounds"] == ROUNDS
    assert tuple(compared["peers"]) == SQL_PEERS
    for figures in compared["peers"].values():
        assert figures["latency_ms"]["count"] == ROUNDS * len(QUERIES)
        assert figures["by_category_ms"]["filtered"]["count"] == ROUNDS * 3
        assert figures["requests_per_s"] > 0 and figures["unsupported"] == {}


def test_filtered_and_unfiltered_totals_are_kept_apart_and_agree(compared: dict[str, Any]) -> None:
    expected = {"nginx": 3, "redis": 2, "nginx [arch=arm64]": 2, " [arch=arm]": 2, " [arch=mips]": 0}
    for figures in compared["peers"].values():
        assert figures["totals"] == expected


def test_ratios_are_to_registry_search(compared: dict[str, Any]) -> None:
    peers = compared["peers"]
    assert peers["registry-search"]["vs_registry_search"] == {"median": 1.0, "p99": 1.0}
    for name in SQL_PEERS[1:]:
        assert set(peers[name]["vs_registry_search"]) == {"median", "p99"}
        assert all(ratio > 0 for ratio in peers[name]["vs_registry_search"].values())


def test_a_catalog_walk_refusing_every_query_reports_nothing_measured(data_dir: Path) -> None:
    filtered = [query for query in QUERIES if query.arch]
    walk = CatalogWalk("http://127.0.0.1:9")  # nothing listens: it must not even try
    result = compare(data_dir, filtered, 10, 1, catalog=walk, catalog_rounds=1)
    walk.close()
    figures = result["peers"]["catalog walk"]
    assert result["catalog_rounds"] == 1
    assert figures["latency_ms"] == {"count": 0} and figures["requests_per_s"] is None
    assert figures["unsupported"] == {"filtered": 3} and figures["vs_registry_search"] is None
    assert set(figures["totals"].values()) == {None}


def test_the_catalog_walk_may_be_timed_on_fewer_queries_than_the_others(data_dir: Path) -> None:
    walk = CatalogWalk("http://127.0.0.1:9")  # nothing listens: only refused queries reach it
    result = compare(data_dir, QUERIES, 10, 2, catalog=walk, catalog_rounds=1, catalog_queries=QUERIES[2:3])
    walk.close()
    assert result["peers"]["catalog walk"]["unsupported"] == {"filtered": 1}
    assert result["peers"]["registry-search"]["latency_ms"]["count"] == 2 * len(QUERIES)
