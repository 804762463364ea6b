"""``bench.backfill`` against a real registry: every tag is fetched with plain GETs, and only those.

The registry's own access log is the witness: the requests it saw during a
crawl are exactly the ones the baseline counted, and none is a HEAD.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.backfill import CrawlFigures, sequential_crawl
from bench.corpus import debian_packages
from bench.image_specs import ImageSpec, LoadPlan, plan_images
from bench.images import SEED_REPOSITORY
from bench.load import load
from indexer.registry import TransientError
from tests.support.registry import RegistryProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
PLAN = LoadPlan(repositories=20, tags_per_repo=2, threads=4, seed=5, multi_platform_share=0.3)
PAGE_SIZE = 8  # 21 catalog entries (20 + the seed repository) in pages of 8, 8 and 5
ACCESS_LOG = {"log": {"level": "warn", "formatter": "text", "accesslog": {"disabled": False}}}
_REQUEST_LINE = re.compile(r'"([A-Z]+) (/\S*) HTTP/1\.[01]"')


@dataclass(frozen=True)
class Loaded:
    registry: RegistryProcess
    images: list[ImageSpec]

    def requests_seen_since(self, offset: int) -> Counter[str]:
        """The registry's access log after ``offset`` characters: requests by method."""
        return Counter(m.group(1) for m in _REQUEST_LINE.finditer(self.registry.log()[offset:]))


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """A registry loaded with ``PLAN``, logging every request it answers."""
    with RegistryProcess(tmp_path_factory.mktemp("registry"), extra_config=ACCESS_LOG) as registry:
        images = plan_images(PLAN, debian_packages())
        assert load(registry.url, PLAN, images=images).failures == ()
        yield Loaded(registry, images)


def crawl_witnessed(loaded: Loaded, budget_s: float | None = None) -> tuple[CrawlFigures, Counter[str]]:
    """Crawl, and the requests the registry logged meanwhile."""
    offset = len(loaded.registry.log())
    figures = sequential_crawl(loaded.registry.url, budget_s, page_size=PAGE_SIZE)
    # the registry logs a request once it has answered it: wait for the last lines
    wait_until(lambda: sum(loaded.requests_seen_since(offset).values()) >= figures.requests, 5, "the access log caught up")
    return figures, loaded.requests_seen_since(offset)


def fetches_per_tag(spec: ImageSpec) -> int:
    """GETs for one tag: the manifest and one config, or an index, its two children and their two configs."""
    return 5 if spec.multi_platform else 2


def test_the_whole_catalog_is_crawled_with_one_get_per_manifest_and_config(loaded: Loaded) -> None:
    assert any(spec.multi_platform for spec in loaded.images) and not all(s.multi_platform for s in loaded.images)
    figures, seen = crawl_witnessed(loaded)
    assert (figures.listed, figures.repositories, figures.tags, figures.complete) == (21, 21, 40, True)
    # three catalog pages, one tags/list per repository (the seed's answers NAME_UNKNOWN), then every tag
    expected = 3 + 21 + sum(fetches_per_tag(spec) * len(spec.tags) for spec in loaded.images)
    assert figures.requests == expected
    assert figures.requests_by_method == {"GET": expected}
    assert seen == Counter({"GET": expected})
    assert figures.seconds > 0 and figures.tags_per_s == figures.tags / figures.seconds


def test_a_spent_budget_stops_after_the_first_repository(loaded: Loaded) -> None:
    first = sorted([spec.repository for spec in loaded.images] + [SEED_REPOSITORY])[0]
    tags = {spec.repository: spec for spec in loaded.images}
    expected_tags = len(tags[first].tags) if first in tags else 0
    figures, seen = crawl_witnessed(loaded, budget_s=0)
    assert (figures.listed, figures.repositories, figures.tags, figures.complete) == (21, 1, expected_tags, False)
    assert "HEAD" not in seen and sum(seen.values()) == figures.requests


def test_a_budget_longer_than_the_crawl_lets_it_complete(loaded: Loaded) -> None:
    figures, _ = crawl_witnessed(loaded, budget_s=600)
    assert (figures.repositories, figures.tags, figures.complete) == (21, 40, True)


def test_the_command_line_prints_the_figures_as_json(loaded: Loaded) -> None:
    command = [sys.executable, "-m", "bench.backfill", "--registry", loaded.registry.url, "--budget-s", "600"]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout)
    assert (figures["listed"], figures["repositories"], figures["tags"], figures["complete"]) == (21, 21, 40, True)
    assert figures["tags_per_s"] > 0 and figures["requests_by_method"].keys() == {"GET"}


def test_an_unreachable_registry_raises(registry: RegistryProcess) -> None:
    registry.stop()
    with pytest.raises(TransientError, match="catalog"):
        sequential_crawl(registry.url)
