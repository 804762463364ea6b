"""The Markdown tables of a sized results file show each figure where it belongs, and ``n/a`` where absent.

The results dicts are synthetic, shaped like ``bench/run.py``'s file, with
figures chosen so every cell's expected text is known.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.tables import (
    HTTP_LABEL,
    machine_line,
    number,
    query_peers,
    report,
    size_tables,
    sizes,
)

MACHINE = {"date": "2026-11-28T18:00:00Z", "nproc": 2, "cpu_model": "AMD EPYC", "python": "3.11.2", "memory_gib": 24}


def latency(median: float, p99: float) -> dict[str, float]:
    return {"count": 440, "median": median, "p90": median * 2, "p99": p99, "max": p99 + 1}


def peer(median: float, p99: float, per_s: float, ratio: tuple[float, float], **categories: float) -> dict[str, Any]:
    return {
        "latency_ms": latency(median, p99),
        "requests_per_s": per_s,
        "by_category_ms": {name.replace("_", " "): {"median": p / 2, "p99": p} for name, p in categories.items()},
        "vs_registry_search": {"median": ratio[0], "p99": ratio[1]},
    }


def size_entry(repositories: int, scale: float = 1.0) -> dict[str, Any]:
    """A fully measured size; ``scale`` multiplies latencies so sizes differ."""
    return {
        "repositories": repositories,
        "tags": repositories * 5,
        "load": {"tags_per_s": 39.4, "seconds": 25.4, "cached": True},
        "backfill": {
            "tags": repositories * 5, "seconds": 12.0, "tags_per_s": 83.3, "speedup": 16.7,
            "sequential": {"repositories": 300, "tags": 300, "requests": 1200, "seconds": 60.0,
                           "tags_per_s": 5.0, "projected_tags_per_s": 4.0, "complete": False},
        },
        "query": {
            "limit": 25,
            "http": {
                "sequential": {"latency_ms": latency(4.9 * scale, 10.1 * scale), "requests_per_s": 190.0},
                "concurrent": {"clients": 4, "latency_ms": latency(13.0 * scale, 46.0 * scale), "requests_per_s": 300.0},
            },
            "peers": {
                "registry-search": peer(0.6 * scale, 3.0 * scale, 1200.0, (1.0, 1.0), common_word=3.3, word=1.0),
                "sql like": peer(0.96 * scale, 1.5 * scale, 900.0, (1.6, 0.5), common_word=9.0, word=1.2),
                "catalog walk": peer(190.0 * scale, 337.0 * scale, 5.2, (317.0, 112.0), word=336.0),
            },
        },
        "freshness": {"rate": 20.0, "pushes": 200, "seen": 199,
                      "latency_s": {"median": 0.45, "p90": 0.8, "p99": 1.17, "max": 1.5}},
        "memory_mib": {"after_backfill": {"search_process": {"rss": 90.0, "hwm": 95.0}},
                       "at_end": {"search_process": {"rss": 150.0, "hwm": 180.0},
                                  "all_processes": {"rss": 300.0, "hwm": 350.0, "processes": 3}}},
    }


def one_size() -> dict[str, Any]:
    return {"machine": MACHINE, "parameters": {}, "sizes": {"1000": size_entry(1000)}}


def three_sizes() -> dict[str, Any]:
    """Three sizes, listed out of order; the largest lacks several figures."""
    largest = size_entry(100_000, scale=10.0)
    largest["query"]["peers"]["sql like"]["latency_ms"] = {"count": 0}
    del largest["query"]["peers"]["sql like"]["requests_per_s"]
    del largest["query"]["peers"]["catalog walk"]
    del largest["backfill"]["sequential"]
    largest["freshness"] = {}
    del largest["memory_mib"]["at_end"]["all_processes"]
    middle = size_entry(10_000, scale=2.0)
    middle["backfill"]["sequential"]["complete"] = True
    return {"machine": MACHINE, "sizes": {"100000": largest, "1000": size_entry(1000), "10000": middle}}


def section_of(markdown: str, heading: str) -> str:
    """The text from ``heading`` up to the next size heading."""
    start = markdown.index(heading)
    end = markdown.find("\n### ", start + 1)
    return markdown[start:] if end == -1 else markdown[start:end]


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "n/a"), (0.45, "0.450"), (5, "5.00"), (16.72, "16.7"), (150.0, "150"), (99.96, "100"),
     (1234.5, "1,230"), (123_456.0, "123,000"), (0.001234, "0.00123"), (0.0, "0.00")],
)
def test_numbers_have_three_significant_digits_and_thousands_separators(value: float | None, text: str) -> None:
    assert number(value) == text


def test_machine_line_names_cpus_memory_python_and_date() -> None:
    assert machine_line(one_size()) == (
        "Measured 2026-11-28T18:00:00Z on 2 × AMD EPYC, 24.0 GiB memory, Python 3.11.2."
    )


def test_machine_line_survives_an_absent_machine() -> None:
    assert machine_line({}) == "Measured on n/a × unknown CPU."


def test_one_size_has_its_heading_and_a_row_per_peer() -> None:
    markdown = size_tables(one_size())
    assert markdown.startswith("### 1,000 repositories (5,000 tags)\n")
    assert "| peer | p50 ms | p90 ms | p99 ms | max ms | req/s | p50 vs RS | p99 vs RS |" in markdown
    assert "| registry-search | 0.600 | 1.20 | 3.00 | 4.00 | 1,200 | 1.00 | 1.00 |" in markdown
    assert "| sql like | 0.960 | 1.92 | 1.50 | 2.50 | 900 | 1.60 | 0.500 |" in markdown
    assert "| catalog walk | 190 | 380 | 337 | 338 | 5.20 | 317 | 112 |" in markdown
    assert f"| {HTTP_LABEL} | 4.90 | 9.80 | 10.1 | 11.1 | 190 | n/a | n/a |" in markdown
    assert f"| {HTTP_LABEL}, 4 clients | 13.0 | 26.0 | 46.0 | 47.0 | 300 | n/a | n/a |" in markdown


def test_http_rows_come_first_sequential_then_concurrent() -> None:
    rows = [line.split(" | ")[0] for line in size_tables(one_size()).splitlines() if line.startswith("| ")]
    assert rows[2:7] == [f"| {HTTP_LABEL}", f"| {HTTP_LABEL}, 4 clients", "| registry-search", "| sql like",
                         "| catalog walk"]


def test_backfill_freshness_memory_and_load_lines() -> None:
    markdown = size_tables(one_size())
    assert (
        "- **Backfill**: 83.3 tags/s (5,000 tags in 12.0 s); "
        "sequential crawl 4.00 tags/s (300 tags in 60.0 s, time-boxed, projected to the whole catalog); speedup 16.7×"
    ) in markdown
    assert (
        "- **Push-to-searchable** at 20.0 pushes/s: p50 0.450 s, p90 0.800 s, p99 1.17 s, max 1.50 s; "
        "seen 199 of 200"
    ) in markdown
    assert (
        "- **Memory**: search process 150 MiB RSS (peak 180); all processes 300 MiB (peak 350) across 3 processes"
    ) in markdown
    assert "- **Load**: 39.4 tags/s (25.4 s, from the cache)" in markdown


def test_category_table_has_a_row_per_category_and_a_column_per_peer() -> None:
    markdown = size_tables(one_size())
    assert "| category | registry-search | sql like | catalog walk |" in markdown
    assert "| common word | 3.30 | 9.00 | n/a |" in markdown
    assert "| word | 1.00 | 1.20 | 336 |" in markdown


def test_sizes_come_fewest_repositories_first() -> None:
    markdown = size_tables(three_sizes())
    headings = [line for line in markdown.splitlines() if line.startswith("### ")]
    assert headings == [
        "### 1,000 repositories (5,000 tags)",
        "### 10,000 repositories (50,000 tags)",
        "### 100,000 repositories (500,000 tags)",
    ]


def test_absent_figures_print_as_not_available() -> None:
    largest = section_of(size_tables(three_sizes()), "### 100,000 repositories")
    assert "| sql like | n/a | n/a | n/a | n/a | n/a | 1.60 | 0.500 |" in largest
    assert "catalog walk" not in largest
    assert "sequential crawl n/a; speedup 16.7×" in largest
    assert "- **Push-to-searchable**: n/a" in largest
    assert "all processes n/a MiB (peak n/a)" in largest
    assert "| registry-search | 6.00 | 12.0 | 30.0 | 31.0 | 1,200 | 1.00 | 1.00 |" in largest


def test_a_complete_sequential_crawl_says_so() -> None:
    middle = section_of(size_tables(three_sizes()), "### 10,000 repositories")
    assert "(300 tags in 60.0 s, complete)" in middle


def test_a_size_without_any_phase_prints_not_available_lines() -> None:
    markdown = size_tables({"sizes": {"500": {}}})
    assert markdown.startswith("### 500 repositories (n/a tags)\n")
    for line in ("Queries: n/a", "- **Load**: n/a", "- **Backfill**: n/a", "- **Push-to-searchable**: n/a",
                 "- **Memory**: n/a"):
        assert line in markdown
    assert "by query category" not in markdown


def test_no_sizes() -> None:
    assert size_tables({"machine": MACHINE}) == "No sizes measured."


def test_sizes_without_a_repository_count_are_left_out() -> None:
    measured = sizes({"sizes": {"small": {"tags": 5}, "named": {"repositories": 7}, "20": {}}})
    assert [size.repositories for size in measured] == [7, 20]
    assert [size.tags for size in measured] == [None, None]


def test_query_peers_put_http_first_and_keep_the_file_order() -> None:
    size = sizes(one_size())[0]
    assert list(query_peers(size)) == [HTTP_LABEL, "registry-search", "sql like", "catalog walk"]


def test_report_starts_with_the_machine_line() -> None:
    text = report(one_size())
    assert text.startswith("Measured 2026-11-28T18:00:00Z on 2 × AMD EPYC")
    assert "### 1,000 repositories (5,000 tags)" in text
    assert text.rstrip().endswith("the HTTP rows include it.")


def test_the_backfill_cpu_line_sets_the_two_crawls_side_by_side() -> None:
    results = one_size()
    size_figures = next(iter(results["sizes"].values()))
    size_figures["backfill"]["cpu"] = {"registry_s": 4.0, "service_s": 8.0, "machine_busy_s": 20.0,
                                       "cores_busy": 1.9, "cpu_ms_per_tag": 12.0}
    size_figures["backfill"]["sequential"]["cpu"] = {"registry_s": 3.0, "crawler_s": 2.0, "machine_busy_s": 6.0,
                                                     "cores_busy": 0.95, "cpu_ms_per_tag": 5.0}
    assert (
        "- **Backfill CPU**: 12.0 ms per tag (registry 4.00 s, service 8.00 s), 1.90 cores busy; "
        "sequential crawl 5.00 ms per tag (registry 3.00 s, crawler 2.00 s), 0.950 cores busy"
    ) in size_tables(results)
    assert "- **Backfill CPU**: n/a" in size_tables(one_size())


def test_the_memory_line_splits_the_heap_from_mapped_files_when_measured() -> None:
    results = one_size()
    size_figures = next(iter(results["sizes"].values()))
    size_figures["memory_mib"]["at_end"]["search_process"].update(anon=120.0, file=30.0)
    assert "search process 150 MiB RSS (peak 180, heap 120, mapped files 30.0)" in size_tables(results)


def test_the_segments_line_says_how_many_segments_were_searched() -> None:
    results = one_size()
    assert "- **Index segments** when queried: n/a" in size_tables(results)
    next(iter(results["sizes"].values()))["query"]["segments"] = {"repository": 2, "tag": 3}
    assert "- **Index segments** when queried: 2 repository, 3 tag" in size_tables(results)
