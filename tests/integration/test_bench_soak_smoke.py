"""``python -m bench.soak`` end to end for a few seconds at low rates, so the soak never rots.

The figures are not judged (the full run's targets live in ``bench/``); that
every stream ran without an error, memory was sampled, real pushes and
deletes happened and the index agreed with the registry afterwards is.
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
DURATION_S, NOTIFICATION_RATE, QUERY_RATE, PUSH_RATE = 4.0, 20.0, 10.0, 3.0
REPOSITORIES, TAGS_PER_REPO, CHURN = 12, 2, 2
SMOKE_ARGS = [
    "--duration", str(DURATION_S), "--warmup", "1", "--sample-interval", "1",
    "--notification-rate", str(NOTIFICATION_RATE), "--query-rate", str(QUERY_RATE),
    "--push-rate", str(PUSH_RATE), "--delete-every", "3", "--repositories", str(REPOSITORIES),
    "--tags-per-repo", str(TAGS_PER_REPO), "--churn-repositories", str(CHURN), "--drain-timeout", "60",
]
FIELDS = {"machine", "parameters", "load", "setup", "workdir", "notifications", "queries", "real_pushes", "memory",
          "memory_after_drain_mib", "cpu", "samples", "sampler_failures", "webhook_counters", "stages", "drain",
          "consistency", "registry_log", "errors", "load_average_after"}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """The results file and printed section of one short run."""
    root = tmp_path_factory.mktemp("bench-soak")
    output = root / "soak.json"
    command = [sys.executable, "-m", "bench.soak", *SMOKE_ARGS, "--cache", str(root / "cache"),
               "--workdir", str(root / "work"), "--output", str(output)]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(output.read_text()), result.stdout


def test_the_results_hold_every_figure(smoke_run: tuple[dict[str, Any], str]) -> None:
    results, printed = smoke_run
    assert set(results) == FIELDS
    assert results["parameters"]["duration_s"] == DURATION_S and results["machine"]["nproc"] >= 1
    assert results["setup"]["indexed_tags"] == results["setup"]["expected_tags"] == REPOSITORIES * TAGS_PER_REPO + CHURN * 3
    assert printed.startswith("## Soak (issue 6)") and "| zero errors | " in printed


def test_no_notification_or_push_failed_and_nothing_was_dead_lettered(smoke_run: tuple[dict[str, Any], str]) -> None:
    errors = smoke_run[0]["errors"]
    assert errors["by_loop"]["notifications"] == {} and errors["by_loop"]["real_pushes"] == {}
    assert errors["dead_lettered_events"] == 0
    assert smoke_run[0]["registry_log"]["warnings"] == 0, smoke_run[0]["registry_log"]["examples"]


def test_no_query_failed(smoke_run: tuple[dict[str, Any], str]) -> None:
    assert smoke_run[0]["errors"]["by_loop"]["queries"] == {}
    assert smoke_run[0]["errors"]["total"] == 0


@pytest.mark.parametrize(("stream", "rate"), [("notifications", NOTIFICATION_RATE), ("queries", QUERY_RATE),
                                              ("real_pushes", PUSH_RATE)])
def test_every_stream_ran_at_its_rate(smoke_run: tuple[dict[str, Any], str], stream: str, rate: float) -> None:
    figures = smoke_run[0][stream]
    # request n is due at begin + n / rate: the window's edges may fall a rounding error either side of one
    assert abs(figures["requests"] - rate * DURATION_S) <= 1 and abs(figures["warmup_requests"] - rate) <= 1
    assert figures["latency_ms"]["count"] == figures["requests"]
    answered = figures["requests"] - sum(figures["errors"].values())
    assert figures["achieved_per_s"] == round(answered / DURATION_S, 1)
    latency = figures["latency_ms"]
    assert 0 < latency["min"] <= latency["median"] <= latency["p99"] <= latency["max"]
    assert figures["service_ms"]["median"] <= latency["median"]


def test_the_streams_did_what_they_stand_for(smoke_run: tuple[dict[str, Any], str]) -> None:
    results = smoke_run[0]
    assert set(results["notifications"]["by_label"]) >= {"pull", "push"}
    assert set(results["queries"]["by_label"]) == {"/api/v1/search", "/api/v1/suggest", "/v1/search"}
    assert set(results["real_pushes"]["by_label"]) == {"move latest", "delete", "re-push"}
    sent = results["notifications"]["requests"] + results["notifications"]["warmup_requests"]
    accepted = results["webhook_counters"]['regsearch_webhook_events_total{outcome="accepted"}']
    assert accepted > sent  # the registry's own notifications of the real pushes and deletes came on top


def test_memory_was_sampled_every_interval(smoke_run: tuple[dict[str, Any], str]) -> None:
    results = smoke_run[0]
    assert len(results["samples"]) == DURATION_S + 1 and results["sampler_failures"] == []
    assert [round(s["at_s"]) for s in results["samples"]] == list(range(int(DURATION_S) + 1))
    memory = results["memory"]["all_processes"]
    assert 0 < memory["start_rss"] <= memory["max_rss"] and memory["end_rss"] > 0
    assert memory["growth"] == round((memory["end_rss"] - memory["start_rss"]) / memory["start_rss"], 4)
    assert results["cpu"]["cores"]["service"] > 0


def test_the_index_agreed_with_the_registry_afterwards(smoke_run: tuple[dict[str, Any], str]) -> None:
    check = smoke_run[0]["consistency"]
    assert check["passed"] is True, check
    assert check["repositories"] == REPOSITORIES + CHURN and check["indexed_tags"] == check["registry_tags"]
    assert check["pulls"]["indexed"] == check["pulls"]["acknowledged"] > 0
    assert smoke_run[0]["drain"]["quiet"] is True
