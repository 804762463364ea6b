"""The plots of a sized results file are valid PNGs, drawn from the right figures, for one size or several."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from bench.plots import backfill_series, latency_series, main, memory_series, time_boxed, write_plots
from bench.tables import HTTP_LABEL, sizes
from tests.bench.test_tables import one_size, three_sizes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NAMES = ["latency-vs-size.png", "backfill-vs-size.png", "memory-vs-size.png"]


def png_dimensions(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header; fails the test if the file is not a PNG."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("results", [one_size(), three_sizes()], ids=["one size", "three sizes"])
def test_write_plots_writes_three_valid_pngs(results: dict[str, Any], tmp_path: Path) -> None:
    written = write_plots(results, tmp_path / "plots")
    assert written == [tmp_path / "plots" / name for name in NAMES]
    for path in written:
        width, height = png_dimensions(path)
        assert width > 400 and height > 300
        assert path.stat().st_size > 10_000


def test_nothing_measured_still_writes_every_plot(tmp_path: Path) -> None:
    written = write_plots({"sizes": {}}, tmp_path)
    assert [path.name for path in written] == NAMES
    for path in written:
        assert png_dimensions(path)[0] > 0


def test_latency_series_has_p50_and_p99_per_peer_in_one_colour() -> None:
    series = latency_series(sizes(three_sizes()))
    assert [line.label for line in series] == [
        f"{HTTP_LABEL} p50", f"{HTTP_LABEL} p99",
        "registry-search p50", "registry-search p99",
        "sql like p50", "sql like p99",
        "catalog walk p50", "catalog walk p99",
    ]
    assert [line.style for line in series[:2]] == ["-", "--"]
    assert series[2].colour == series[3].colour != series[0].colour
    assert series[2].points == ((1000, 0.6), (10_000, 1.2), (100_000, 6.0))


def test_latency_series_leave_out_absent_figures() -> None:
    by_label = {line.label: line.points for line in latency_series(sizes(three_sizes()))}
    assert by_label["sql like p99"] == ((1000, 1.5), (10_000, 3.0))
    assert [x for x, _ in by_label["catalog walk p50"]] == [1000, 10_000]
    assert by_label[f"{HTTP_LABEL} p99"][-1] == pytest.approx((100_000, 101.0))


def test_backfill_series_and_time_boxed_points() -> None:
    measured = sizes(three_sizes())
    backfill, sequential = backfill_series(measured)
    assert backfill.points == ((1000, 83.3), (10_000, 83.3), (100_000, 83.3))
    assert sequential.points == ((1000, 4.0), (10_000, 4.0))
    assert time_boxed(measured) == ((1000, 4.0),)


def test_memory_series_are_against_tags() -> None:
    ours, peak, every = memory_series(sizes(three_sizes()))
    assert ours.points == ((5000, 150.0), (50_000, 150.0), (500_000, 150.0))
    assert peak.points == ((5000, 180.0), (50_000, 180.0), (500_000, 180.0))
    assert every.points == ((5000, 300.0), (50_000, 300.0))


def test_cli_writes_next_to_the_results_file_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps(one_size()))
    main([str(results)])
    assert capsys.readouterr().out.splitlines() == [str(tmp_path / name) for name in NAMES]
    assert all(png_dimensions(tmp_path / name) for name in NAMES)


def test_cli_out_directory(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps(three_sizes()))
    main([str(results), "--out", str(tmp_path / "out")])
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == sorted(NAMES)
