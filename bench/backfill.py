"""The baseline of the initial backfill: ``python -m bench.backfill``.

    python -m bench.backfill --registry http://127.0.0.1:5000 [--budget-s 60] [--page-size 100]

Registry Search backfills an empty index by walking ``/v2/_catalog`` and
syncing every repository on a thread pool, asking HEAD first so unchanged
tags cost one request. The baseline is the same crawl done the plain way:
one thread walks the whole catalog, then for every repository lists its
tags and, for every tag, GETs the manifest by tag (and an index's children)
and the image config blobs, building the very tag documents the indexer
builds (``indexer.fetch.fetch_tag_document`` over the project's
``RegistryClient``). No HEAD request is made and nothing is skipped.

What it leaves out makes it a lower bound on the sequential crawl's time,
so the ratio Registry Search is credited with is conservative: the
documents are built and dropped, no index or log is written.

The catalog walk (every page) always comes first and counts in the time,
as in the reconciler. A time budget, counted from the end of that walk
(which alone takes minutes at 100,000 repositories), stops the crawl after
the repository in progress once it is spent; ``complete`` then says the
catalog was not finished, and what is compared is projected from the first
part: the catalog walk once, plus the per-repository time measured so far
for every listed repository. Dividing the tags by the whole elapsed time
instead would charge the full walk to a few repositories and flatter the
backfill.

Errors from the registry propagate: a baseline that skipped failures would
look fast. The one exception is the indexer's own rule that a repository
whose ``tags/list`` answers ``NAME_UNKNOWN`` has no tags (distribution 2.8
lists blob-only repositories, such as ``bench.images.SEED_REPOSITORY``, in
the catalog).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import requests

from indexer.documents import TagDocument
from indexer.fetch import ManifestSource, fetch_tag_document
from indexer.policies import ReconcilePolicy
from indexer.registry import NotFound, RegistryClient
from indexer.worker import utc_now

CATALOG_PAGE_SIZE = ReconcilePolicy.catalog_page_size
"""The reconciler's default page size, so both walk the catalog alike."""


class CrawlSource(ManifestSource, Protocol):
    """What the crawl asks of a registry: the catalog, tags, manifests and blobs."""

    def catalog(self, page_size: int = ...) -> Iterable[str]:
        """Every repository name, page by page."""
        ...

    def tags(self, repository: str) -> list[str]:
        """Every tag of ``repository``; ``NotFound`` when the registry knows no such repository."""
        ...


@dataclass(frozen=True)
class CrawlCounts:
    """What one crawl covered: repositories listed in the catalog, crawled, and tag documents built."""

    listed: int
    repositories: int
    tags: int
    catalog_seconds: float = 0.0

    @property
    def complete(self) -> bool:
        """Whether every listed repository was crawled."""
        return self.repositories == self.listed


@dataclass(frozen=True)
class CrawlFigures:
    """The measured baseline: what was crawled, with how many HTTP requests, in how long.

    ``requests`` counts every HTTP exchange the client made (token requests
    included); ``requests_by_method`` splits it by method. ``complete`` is
    False when the time budget stopped the crawl before the end of the catalog.
    """

    listed: int
    repositories: int
    tags: int
    requests: int
    seconds: float
    complete: bool
    requests_by_method: Mapping[str, int] = field(default_factory=dict, hash=False)
    catalog_seconds: float = 0.0

    @property
    def tags_per_s(self) -> float:
        """Tag documents built per second of wall time."""
        return self.tags / self.seconds if self.seconds > 0 else 0.0

    @property
    def projected_tags_per_s(self) -> float:
        """The rate of the whole crawl, the figure compared with the backfill: ``tags_per_s`` when
        complete, else one catalog walk plus every listed repository at the per-repository time so far."""
        if self.complete or self.repositories == 0:
            return self.tags_per_s
        per_repository = (self.seconds - self.catalog_seconds) / self.repositories
        seconds = self.catalog_seconds + per_repository * self.listed
        return self.tags * self.listed / self.repositories / seconds if seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Every field, ``tags_per_s`` and ``projected_tags_per_s``, ready for JSON."""
        figures = asdict(self)
        figures["requests_by_method"] = dict(self.requests_by_method)
        figures["tags_per_s"] = self.tags_per_s
        figures["projected_tags_per_s"] = self.projected_tags_per_s
        return figures


class RequestCountingClient(RegistryClient):
    """A ``RegistryClient`` on one connection that counts its HTTP exchanges by method."""

    def __init__(self, url: str) -> None:
        super().__init__(url, pool_size=1)
        self.requests: Counter[str] = Counter()

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        auth: str | None,
        stream: bool,
        what: str,
        params: Mapping[str, str] | None = None,
    ) -> requests.Response:
        # every exchange goes through _send exactly once, so this counts what went over the wire
        self.requests[method] += 1
        return super()._send(method, url, headers, auth, stream, what, params)


def sequential_crawl(
    registry_url: str,
    budget_s: float | None = None,
    *,
    registry_name: str | None = None,
    page_size: int = CATALOG_PAGE_SIZE,
) -> CrawlFigures:
    """Crawl the registry at ``registry_url`` on one thread, with no HEAD requests, and measure it.

    ``registry_name`` is the registry's name in the documents (default its
    ``host:port``, as the indexer names it). With ``budget_s`` the crawl
    stops after the repository in progress once that many seconds have
    passed. Registry errors propagate (see the module docstring).
    """
    client = RequestCountingClient(registry_url)
    with client:
        started = time.monotonic()
        counts = crawl(client, registry_name or client.name, budget_s=budget_s, page_size=page_size)
        seconds = time.monotonic() - started
    return CrawlFigures(
        listed=counts.listed,
        repositories=counts.repositories,
        tags=counts.tags,
        requests=sum(client.requests.values()),
        seconds=seconds,
        complete=counts.complete,
        requests_by_method=dict(client.requests),
        catalog_seconds=counts.catalog_seconds,
    )


def crawl(
    source: CrawlSource,
    registry: str,
    *,
    budget_s: float | None = None,
    page_size: int = CATALOG_PAGE_SIZE,
    clock: Callable[[], float] = time.monotonic,
) -> CrawlCounts:
    """Walk the whole catalog, then build every tag document of every repository in catalog order.

    Once ``budget_s`` seconds of ``clock`` have passed after the catalog
    walk, stops after the repository in progress; at least one repository
    is crawled whenever the catalog lists any.
    """
    started = clock()
    names = list(source.catalog(page_size))
    walked = clock()
    crawled, tags = 0, 0
    for repository in names:
        tags += len(crawl_repository(source, registry, repository))
        crawled += 1
        if budget_s is not None and clock() - walked >= budget_s:
            break
    catalog_seconds = walked - started
    return CrawlCounts(listed=len(names), repositories=crawled, tags=tags, catalog_seconds=catalog_seconds)


def crawl_repository(source: CrawlSource, registry: str, repository: str) -> list[TagDocument]:
    """Every tag document of ``repository``, each fetched by tag with plain GETs, one after another.

    A repository the registry does not know (``NotFound`` from ``tags``) has
    no tags, as in the indexer's worker; any other error propagates.
    """
    try:
        tags = source.tags(repository)
    except NotFound:
        return []
    return [fetch_tag_document(source, registry, repository, tag, pushed=utc_now()) for tag in tags]


# --- command line ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line of ``python -m bench.backfill``."""
    parser = argparse.ArgumentParser(prog="python -m bench.backfill", description=__doc__.splitlines()[0])
    parser.add_argument("--registry", required=True, help="base URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--budget-s", type=float, default=None, help="stop after this many seconds (default: crawl all)")
    parser.add_argument("--page-size", type=int, default=CATALOG_PAGE_SIZE, help="catalog page size")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Crawl the registry and print the figures as JSON."""
    args = parse_args(argv)
    figures = sequential_crawl(args.registry, args.budget_s, page_size=args.page_size)
    print(json.dumps(figures.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
