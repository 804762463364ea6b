"""Combining runs: a size measured again replaces the earlier figures, and the targets follow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.combine import combine
from tests.bench.test_tables import MACHINE, peer, size_entry


def run_of(*sizes: int, speedup: float) -> dict[str, Any]:
    entries = {}
    for size in sizes:
        entry = size_entry(size)
        entry["query"]["peers"]["sql fts5"] = peer(0.3, 4.0, 2000.0, (0.5, 1.3))
        entry["backfill"]["speedup"] = speedup
        entries[str(size)] = entry
    return {"machine": MACHINE, "parameters": {"sizes": list(sizes)}, "sizes": entries}


def test_a_later_run_replaces_its_sizes_and_the_targets_are_recomputed(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(run_of(1000, 10000, 100000, speedup=0.9)))
    (tmp_path / "b.json").write_text(json.dumps(run_of(10000, speedup=12.5)))

    combined = combine([tmp_path / "a.json", tmp_path / "b.json"])

    assert list(combined["sizes"]) == ["1000", "10000", "100000"]
    assert [combined["sizes"][s]["backfill"]["speedup"] for s in ("1000", "10000", "100000")] == [0.9, 12.5, 0.9]
    assert [combined["targets"][s]["backfill_speedup"]["met"] for s in ("1000", "10000", "100000")] == [
        False, True, False]
    assert [run["sizes"] for run in combined["runs"]] == [["1000", "10000", "100000"], ["10000"]]
