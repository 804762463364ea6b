"""``python -m bench.features`` end to end at a tiny size: every feature is timed, beside its alternative."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
FEATURES = {"search with facets", "search, filters", "docker /v1/search", "suggest",
            "prefix query (suggest's alternative)", "facets counted by the client (alternative)",
            "HTTP floor (/healthz)"}


def test_a_tiny_feature_run_times_every_feature(tmp_path: Path) -> None:
    output = tmp_path / "features.json"
    command = [sys.executable, "-m", "bench.features", "--repositories", "30", "--tags-per-repo", "2",
               "--rounds", "1", "--clients", "2", "--timeout", "120", "--cache", str(tmp_path / "cache"),
               "--workdir", str(tmp_path / "work"), "--output", str(output)]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=420)
    assert result.returncode == 0, result.stderr[-4000:]
    figures = json.loads(output.read_text())
    assert (figures["indexed"], figures["tags"], figures["settled"]) == (60, 60, True)
    assert set(figures["features"]) == FEATURES
    for feature, measured in figures["features"].items():
        assert measured["latency_ms"]["count"] > 0, feature
        assert 0 < measured["latency_ms"]["median"] <= measured["latency_ms"]["p99"], feature
    assert figures["features"]["suggest"]["target_p99_ms"] == 5.0
    assert figures["features"]["suggest"]["requests_per_s"] > 0
    assert "| suggest |" in result.stdout
