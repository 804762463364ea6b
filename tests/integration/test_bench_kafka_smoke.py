"""``python -m bench.kafka_run`` end to end at tiny sizes on the session's Kafka cluster.

The figures themselves are not judged here (speed targets live in
``bench/``); only that every measurement happened and is sane.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENTS, PUSHES, PRELOAD_TAGS, TAGS_PER_REPO = (2,), 6, 10, 5
SMOKE_ARGS = [
    "--clients", ",".join(map(str, CLIENTS)), "--duration", "1.0", "--warmup", "0.3", "--no-profile",
    "--pushes", str(PUSHES), "--rate", "10", "--freshness-timeout", "20",
    "--preload-tags", str(PRELOAD_TAGS), "--tags-per-repo", str(TAGS_PER_REPO), "--index-timeout", "30",
]


@pytest.fixture(scope="module")
def smoke_run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """The results file and printed table of one tiny run against the session's cluster."""
    root = tmp_path_factory.mktemp("bench-kafka")
    output = root / "results.json"
    command = [sys.executable, "-m", "bench.kafka_run", *SMOKE_ARGS, "--output", str(output), "--workdir", str(root / "work")]
    environment = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    result = subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(output.read_text()), result.stdout


@pytest.mark.parametrize("receiver", ["kafka", "embedded"])
def test_every_ingest_run_was_accepted_and_timed(smoke_run: tuple[dict[str, Any], str], receiver: str) -> None:
    ingest = smoke_run[0]["ingest"][receiver]
    assert [run["clients"] for run in ingest["runs"]] == list(CLIENTS)
    for run in ingest["runs"]:
        latency = run["latency_ms"]
        assert run["requests"] == latency["count"] > 0 and run["non_202"] == 0
        assert run["statuses"] == {"202": run["requests"]}
        assert run["accepted_per_s"] == round(run["requests"] / run["duration_s"], 1)
        assert 0 < latency["min"] <= latency["median"] <= latency["p99"] <= latency["max"]
        assert run["cpu_cores"]["receiver"] >= 0 and run["cpu_cores"]["load_generator"] > 0
        assert 0 < run["cpu_cores"]["machine_busy_share"] <= 1
    accepted = ingest["counters_over_timed_runs"]['regsearch_webhook_events_total{outcome="accepted"}']
    assert accepted >= sum(run["requests"] for run in ingest["runs"])
    assert ingest["profiled"] is None and ingest["memory_mib"]["rss"] > 0


def test_the_floor_receiver_was_loaded_the_same_way(smoke_run: tuple[dict[str, Any], str]) -> None:
    floor = smoke_run[0]["ingest"]["floor"]
    assert "waitress" in floor["role"]
    assert [run["clients"] for run in floor["runs"]] == list(CLIENTS)
    for run in floor["runs"]:
        assert run["requests"] == run["latency_ms"]["count"] > 0
        assert run["statuses"] == {"202": run["requests"]}
        assert run["cpu_cores"]["receiver"] >= 0 and "broker" not in run["cpu_cores"]


def test_the_embedded_stack_reports_its_stage_times(smoke_run: tuple[dict[str, Any], str]) -> None:
    stages = smoke_run[0]["freshness"]["embedded"]["stages"]
    assert stages["webhook_request_seconds"]["count"] >= PUSHES
    assert stages["webhook_event_delay_seconds"]["count"] >= PUSHES
    assert stages["index_commit_seconds"]["count"] >= 1 and stages["indexer_batch_seconds"]["count"] >= 1
    assert all(float(stage["median_under_s"]) <= float(stage["p99_under_s"]) for stage in stages.values())


@pytest.mark.parametrize("mode", ["kafka", "embedded"])
def test_every_pushed_image_became_searchable(smoke_run: tuple[dict[str, Any], str], mode: str) -> None:
    freshness = smoke_run[0]["freshness"][mode]
    assert freshness["preload"]["complete"] is True
    assert freshness["preload"]["indexed_tags"] == freshness["index_tags_before"] == PRELOAD_TAGS
    assert freshness["pushes"] == freshness["seen"] == PUSHES and freshness["missing"] == []
    latency = freshness["latency_s"]
    assert 0 < latency["min"] <= latency["median"] <= latency["p99"] <= latency["max"]
    assert freshness["notifications"]['regsearch_webhook_events_total{outcome="accepted"}'] >= PUSHES
    assert freshness["target_p99_s"] == 2.0 and freshness["rate"] == 10
    assert freshness["pushes_completed"]["completed_per_s"] > 0


def test_the_results_describe_the_machine(smoke_run: tuple[dict[str, Any], str]) -> None:
    results, printed = smoke_run
    assert set(results) == {"machine", "parameters", "ingest", "freshness"}
    machine = results["machine"]
    assert machine["broker"] == "KAFKA_BOOTSTRAP_SERVERS" and len(machine["load_average_after"]) == 3
    assert results["ingest"]["envelope_bytes"] > 500
    assert set(results["freshness"]["kafka"]["memory_mib"]) == {"webhooks", "indexer", "search_api"}
    assert "push-to-searchable" in printed and "ingest" in printed
