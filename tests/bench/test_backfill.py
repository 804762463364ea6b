"""The backfill baseline's crawl logic, over the in-memory registry."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from bench.backfill import CrawlFigures, crawl, crawl_repository, parse_args
from indexer.registry import TransientError
from tests.indexer.fake_registry import FakeRegistry, image_config

REGISTRY = "registry.test:5000"


class CatalogRegistry(FakeRegistry):
    """The in-memory registry with a catalog: the listed names, in order, and the page sizes asked for."""

    def __init__(self, listed: list[str]) -> None:
        super().__init__()
        self.listed = listed
        self.page_sizes: list[int] = []

    def catalog(self, page_size: int = 100) -> Iterator[str]:
        self.page_sizes.append(page_size)
        return iter(self.listed)


def ticking_clock() -> Callable[[], float]:
    """A clock that advances one second on every reading."""
    ticks = itertools.count()
    return lambda: float(next(ticks))


def loaded(repositories: int, tags: int = 2) -> CatalogRegistry:
    names = [f"team/app-{i}" for i in range(repositories)]
    registry = CatalogRegistry(names)
    for name in names:
        for t in range(tags):
            registry.push_image(name, tag=f"1.{t}", config=image_config(labels={"v": str(t)}), layer_seed=name)
    return registry


def push_index(registry: FakeRegistry, repository: str, tag: str) -> None:
    amd = registry.push_image(repository, config=image_config("linux", "amd64"), layer_seed="amd")
    arm = registry.push_image(repository, config=image_config("linux", "arm64"), layer_seed="arm")
    registry.push_index(
        repository,
        [(amd, {"os": "linux", "architecture": "amd64"}, None), (arm, {"os": "linux", "architecture": "arm64"}, None)],
        tag=tag,
    )


def test_every_tag_of_every_repository_becomes_a_document_without_head() -> None:
    registry = loaded(3)
    counts = crawl(registry, REGISTRY, page_size=7)
    assert (counts.listed, counts.repositories, counts.tags, counts.complete) == (3, 3, 6, True)
    assert registry.page_sizes == [7]
    assert {method for method, _, _ in registry.calls} == {"get_manifest", "get_blob"}
    manifests_by_tag = [ref for method, _, ref in registry.calls if method == "get_manifest"]
    assert manifests_by_tag == ["1.0", "1.1"] * 3


def test_an_index_fetches_its_children_and_every_config() -> None:
    registry = CatalogRegistry(["multi"])
    push_index(registry, "multi", "2.0")
    documents = crawl_repository(registry, REGISTRY, "multi")
    assert [(d.repository, d.tag, d.registry) for d in documents] == [("multi", "2.0", REGISTRY)]
    assert sorted(p.architecture for p in documents[0].platforms) == ["amd64", "arm64"]
    assert [method for method, _, _ in registry.calls] == ["get_manifest"] * 3 + ["get_blob"] * 2


def test_the_budget_stops_after_the_repository_in_progress() -> None:
    registry = loaded(5)
    # the clock reads 0 before the catalog walk, 1 after it and 2, 3, ... after each repository;
    # the budget counts from the end of the walk
    counts = crawl(registry, REGISTRY, budget_s=2, clock=ticking_clock())
    assert (counts.listed, counts.repositories, counts.tags, counts.complete) == (5, 2, 4, False)
    assert counts.catalog_seconds == 1


def test_a_spent_budget_still_crawls_one_repository() -> None:
    counts = crawl(loaded(3), REGISTRY, budget_s=0)
    assert (counts.repositories, counts.tags, counts.complete) == (1, 2, False)


def test_a_budget_spent_on_the_last_repository_is_complete() -> None:
    counts = crawl(loaded(2), REGISTRY, budget_s=2, clock=ticking_clock())
    assert (counts.repositories, counts.complete) == (2, True)


def test_an_empty_catalog_is_complete() -> None:
    counts = crawl(CatalogRegistry([]), REGISTRY, budget_s=0)
    assert (counts.listed, counts.repositories, counts.tags, counts.complete) == (0, 0, 0, True)


def test_a_listed_repository_without_tags_counts_as_crawled_and_empty() -> None:
    registry = loaded(1)
    registry.listed = ["bench/base", *registry.listed]
    counts = crawl(registry, REGISTRY)
    assert (counts.listed, counts.repositories, counts.tags, counts.complete) == (2, 2, 2, True)


def test_registry_errors_propagate() -> None:
    registry = loaded(2)
    registry.fail("team/app-1", "1.1", TransientError("registry down"))
    with pytest.raises(TransientError, match="registry down"):
        crawl(registry, REGISTRY)


def test_figures_report_the_rate_and_every_field() -> None:
    figures = CrawlFigures(listed=4, repositories=3, tags=6, requests=20, seconds=2.0, complete=False,
                           requests_by_method={"GET": 20})
    assert figures.tags_per_s == 3.0
    assert figures.as_dict() == {
        "listed": 4, "repositories": 3, "tags": 6, "requests": 20, "seconds": 2.0, "complete": False,
        "requests_by_method": {"GET": 20}, "tags_per_s": 3.0, "projected_tags_per_s": 3.0, "catalog_seconds": 0.0,
    }
    assert CrawlFigures(0, 0, 0, 0, 0.0, True).tags_per_s == 0.0


def test_a_time_boxed_crawl_is_projected_with_one_catalog_walk_for_every_listed_repository() -> None:
    # 10 s walking 1,000 names, then 2 s for 10 repositories of 2 tags: the whole crawl is
    # 10 s + 1,000 x 0.2 s for 2,000 tags, not 20 tags in 12 s
    part = CrawlFigures(listed=1000, repositories=10, tags=20, requests=50, seconds=12.0, complete=False,
                        catalog_seconds=10.0)
    assert part.tags_per_s == pytest.approx(20 / 12)
    assert part.projected_tags_per_s == pytest.approx(2000 / 210)
    whole = CrawlFigures(listed=10, repositories=10, tags=20, requests=50, seconds=12.0, complete=True,
                         catalog_seconds=10.0)
    assert whole.projected_tags_per_s == whole.tags_per_s


def test_the_command_line_defaults_to_the_whole_catalog_in_reconciler_pages() -> None:
    args = parse_args(["--registry", "http://127.0.0.1:5000"])
    assert (args.registry, args.budget_s, args.page_size) == ("http://127.0.0.1:5000", None, 1000)
    assert parse_args(["--registry", "http://r", "--budget-s", "60"]).budget_s == 60.0
