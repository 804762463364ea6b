"""``python -m bench.run`` end to end at tiny sizes: it runs, and its results file says what it measured.

The figures themselves are not judged here (speed targets live in
``bench/``); only that every measurement happened and is sane.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
PUSHES, PROBES, TAGS, TAGS_PER_REPO, QUERIES, WALKS, ROUNDS = 10, 4, 100, 5, 40, 3, 2
SMOKE_ARGS = [
    "--pushes", str(PUSHES), "--rate", "20", "--freshness-timeout", "20",
    "--probe-pushes", str(PROBES), "--probe-rate", "4",
    "--tags", str(TAGS), "--tags-per-repo", str(TAGS_PER_REPO), "--index-timeout", "60",
    "--queries", str(QUERIES), "--warmup", "5", "--baseline-queries", str(WALKS), "--peer-rounds", str(ROUNDS),
]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """The results file and printed table of one tiny run."""
    root = tmp_path_factory.mktemp("bench")
    output = root / "results.json"
    command = [sys.executable, "-m", "bench.run", *SMOKE_ARGS, "--output", str(output), "--workdir", str(root / "work")]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(output.read_text()), result.stdout


@pytest.mark.parametrize(("section", "pushes"), [("freshness", PUSHES), ("freshness_probe", PROBES)])
def test_every_pushed_image_was_seen_with_a_positive_latency(
    smoke_run: tuple[dict[str, Any], str], section: str, pushes: int
) -> None:
    freshness = smoke_run[0][section]
    assert freshness["pushes"] == freshness["seen"] == pushes
    assert freshness["missing"] == []
    latency = freshness["latency_s"]
    assert latency["count"] == pushes == len(freshness["latency_by_push_s"])
    assert 0 < latency["min"] <= latency["median"] <= latency["p99"] <= latency["max"]
    assert freshness["push_s"]["count"] == pushes and freshness["poll_cycle_ms"]["count"] > 0
    assert freshness["notifications"]['regsearch_webhook_events_total{outcome="accepted"}'] == pushes


def test_the_whole_load_became_searchable(smoke_run: tuple[dict[str, Any], str]) -> None:
    load = smoke_run[0]["load"]
    assert load["complete"] is True and load["settled"] is True
    assert (load["indexed_tags"], load["indexed_repositories"]) == (TAGS, TAGS // TAGS_PER_REPO)
    assert 0 < load["push_s"] <= load["searchable_s"]
    assert load["notified_s"] is not None and load["notified_s"] > 0


def test_queries_were_timed_against_the_catalog_walk(smoke_run: tuple[dict[str, Any], str]) -> None:
    query = smoke_run[0]["query"]
    for run in ("sequential", "concurrent"):
        figures = query[run]["latency_ms"]
        assert figures["count"] == QUERIES and 0 < figures["median"] <= figures["p99"]
        assert query[run]["requests_per_s"] > 0
    walk = query["catalog_walk"]
    assert walk["latency_ms"]["count"] == WALKS and walk["pages_per_query"] >= 1
    assert query["speedup_p50"] > 0 and query["healthz_floor_ms"]["median"] > 0
    found = {q["category"]: q["results"] for q in query["queries"]}
    assert found["exact name"] >= 1 and found["no match"] == 0


def test_registry_search_was_timed_in_process_beside_sql_like_and_fts5(smoke_run: tuple[dict[str, Any], str]) -> None:
    query = smoke_run[0]["query"]
    comparison = query["in_process"]
    assert comparison["documents"] == TAGS // TAGS_PER_REPO and comparison["limit"] == 25
    assert set(comparison["peers"]) == {"registry-search", "sql like", "sql fts5"}
    queries = len(query["queries"])
    exact = next(q["text"] for q in query["queries"] if q["category"] == "exact name")
    for figures in comparison["peers"].values():
        assert figures["latency_ms"]["count"] == ROUNDS * queries
        assert 0 < figures["latency_ms"]["median"] <= figures["latency_ms"]["p99"]
        assert figures["totals"]["zzqxjvw"] == 0 and figures["totals"][exact] >= 1
    assert comparison["peers"]["registry-search"]["vs_registry_search"] == {"median": 1.0, "p99": 1.0}


def test_the_results_describe_the_machine_and_memory(smoke_run: tuple[dict[str, Any], str]) -> None:
    results, printed = smoke_run
    assert set(results) == {"machine", "parameters", "load", "query", "freshness", "freshness_probe", "memory_mib"}
    assert results["machine"]["nproc"] >= 1 and results["machine"]["python"].startswith("3.")
    assert 0 < results["memory_mib"]["after_load"]["rss"] <= results["memory_mib"]["at_end"]["hwm"]
    assert results["parameters"]["tags"] == TAGS
    assert "freshness median" in printed and "catalog walk" in printed
