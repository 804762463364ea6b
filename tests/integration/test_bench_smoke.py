"""``python -m bench.run`` end to end at one tiny size: it runs, and its results say what it measured.

The figures themselves are not judged here (speed targets live in
``bench/``); only that every measurement happened, over the same data, and
is sane; and that the loaded registry is kept for the next run, unchanged.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.image_specs import LoadPlan
from bench.registry_cache import MARKER, loaded_registry

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
SIZE, PUSHES, QUERIES, ROUNDS = 40, 8, 30, 2
PEERS = {"registry-search", "sql like", "sql fts5", "catalog walk"}


def smoke_args(root: Path) -> list[str]:
    return [
        "--sizes", str(SIZE), "--crawl-budget", "30", "--backfill-timeout", "120",
        "--queries", str(QUERIES), "--warmup", "5", "--clients", "2", "--peer-rounds", str(ROUNDS),
        "--pushes", str(PUSHES), "--rate", "10", "--freshness-timeout", "20",
        "--cache", str(root / "cache"), "--workdir", str(root / "work"), "--output", str(root / "results.json"),
    ]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, Path]:
    """The results file, printed tables and root directory of one tiny run."""
    root = tmp_path_factory.mktemp("bench")
    command = [sys.executable, "-m", "bench.run", *smoke_args(root)]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=420)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads((root / "results.json").read_text()), result.stdout, root


def size(smoke_run: tuple[dict[str, Any], str, Path]) -> dict[str, Any]:
    figures: dict[str, Any] = smoke_run[0]["sizes"][str(SIZE)]
    return figures


def test_the_registry_was_loaded_once_and_kept(smoke_run: tuple[dict[str, Any], str, Path]) -> None:
    load = size(smoke_run)["load"]
    assert (load["repositories"], load["tags"], load["cached"]) == (SIZE, SIZE, False)
    kept = list((smoke_run[2] / "cache").glob(f"*/{MARKER}"))
    assert len(kept) == 1 and json.loads(kept[0].read_text())["tags"] == SIZE


def test_the_backfill_indexed_every_tag_and_the_sequential_crawl_ran(smoke_run: tuple[dict[str, Any], str, Path]) -> None:
    backfill = size(smoke_run)["backfill"]
    assert backfill["complete"] is True and backfill["tags"] == SIZE and backfill["tags_per_s"] > 0
    crawl = backfill["sequential"]
    assert crawl["complete"] is True and crawl["tags"] == SIZE and crawl["tags_per_s"] > 0
    for side, other in ((backfill["cpu"], "service_s"), (crawl["cpu"], "crawler_s")):
        assert side["registry_s"] > 0 and side[other] > 0 and side["cpu_ms_per_tag"] > 0 and side["cores_busy"] > 0
    assert backfill["speedup"] == pytest.approx(backfill["tags_per_s"] / crawl["projected_tags_per_s"], rel=0.05, abs=0.01)


def test_every_peer_answered_the_same_queries(smoke_run: tuple[dict[str, Any], str, Path]) -> None:
    query = size(smoke_run)["query"]
    peers = query["peers"]
    assert set(peers) == PEERS and query["limit"] == 25
    texts = [q for q in size(smoke_run)["queries"]]
    plain = sum(1 for q in texts if q["arch"] is None)
    assert peers["registry-search"]["latency_ms"]["count"] == ROUNDS * len(texts)
    assert peers["sql like"]["latency_ms"]["count"] == ROUNDS * len(texts)
    # the walk costs the same whatever the query: it is timed on one query per category
    categories = {q["category"] for q in texts if q["arch"] is None}
    assert peers["catalog walk"]["latency_ms"]["count"] == 2 * len(categories) < 2 * plain
    for name in ("registry-search", "sql like", "sql fts5"):
        figures = peers[name]
        assert 0 < figures["latency_ms"]["median"] <= figures["latency_ms"]["p99"] and figures["requests_per_s"] > 0
        assert figures["totals"]["zzqxjvw"] == 0
    exact = next(q["text"] for q in texts if q["category"] == "exact name")
    assert all(peers[name]["totals"][exact] >= 1 for name in ("registry-search", "sql like", "sql fts5"))
    assert peers["registry-search"]["vs_registry_search"] == {"median": 1.0, "p99": 1.0}


def test_http_search_was_timed_sequentially_and_concurrently(smoke_run: tuple[dict[str, Any], str, Path]) -> None:
    http = size(smoke_run)["query"]["http"]
    for run in ("sequential", "concurrent"):
        assert http[run]["latency_ms"]["count"] == QUERIES and http[run]["requests_per_s"] > 0


def test_every_pushed_image_became_searchable(smoke_run: tuple[dict[str, Any], str, Path]) -> None:
    freshness = size(smoke_run)["freshness"]
    assert freshness["pushes"] == freshness["seen"] == PUSHES and freshness["missing"] == []
    assert 0 < freshness["latency_s"]["median"] <= freshness["latency_s"]["max"]


def test_memory_targets_tables_and_plots_were_written(smoke_run: tuple[dict[str, Any], str, Path]) -> None:
    results, printed, root = smoke_run
    memory = size(smoke_run)["memory_mib"]
    for moment in ("after_backfill", "after_queries", "at_end"):
        search, every = memory[moment]["search_process"], memory[moment]["all_processes"]
        assert 0 < search["rss"] <= every["rss"] and every["processes"] >= 2
    assert set(results["targets"][str(SIZE)]) >= {"not_slower_than_like", "vs_fts5", "backfill_speedup"}
    assert "40 repositories" in printed and "sql fts5" in printed
    for plot in ("latency-vs-size.png", "backfill-vs-size.png", "memory-vs-size.png"):
        assert (root / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_benchmark_pushes_left_the_kept_registry_as_loaded(smoke_run: tuple[dict[str, Any], str, Path]) -> None:
    kept = next((smoke_run[2] / "cache").glob(f"*/{MARKER}")).parent
    repositories = kept / "storage" / "docker" / "registry" / "v2" / "repositories"
    assert not (repositories / "bench-fresh").exists()
    assert size(smoke_run)["freshness"]["pushes"] == PUSHES  # they were pushed, then forgotten


def test_the_next_run_finds_the_kept_registry_without_loading(smoke_run: tuple[dict[str, Any], str, Path]) -> None:
    directory, load = loaded_registry(smoke_run[2] / "cache", LoadPlan(repositories=SIZE, tags_per_repo=1))
    assert load["cached"] is True and load["tags"] == SIZE
    assert directory == next((smoke_run[2] / "cache").glob(f"*/{MARKER}")).parent
