"""Registry Search beside the SQL alternatives, like for like, in the same run.

The peers of ``bench/peers.py`` are built from exactly the repository
documents the running service indexed (read from its document log), and
Registry Search is timed the same way they are: in this process, through
:meth:`SearchIndex.search` on the service's own index directory (opened
read-only), so no side pays for HTTP. Every peer gets the same queries, the
same result limit and the same number of rounds; the figures say how many
matches each counted, so a difference in semantics shows next to a
difference in speed. A catalog walk over the registry may join, with fewer
rounds (each of its searches reads the whole catalog); it refuses the
queries filtered by architecture, which its figures list as unsupported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.peers import (
    BenchQuery,
    CatalogWalk,
    Peer,
    PeerAnswer,
    SqlFts5,
    SqlLike,
    Timings,
    Unsupported,
    check_limit,
    peer_figures,
    time_peer,
)
from bench.stats import percentile
from indexer.documents import RepositoryDocument, document_from_json
from indexer.index import SearchIndex, SearchRequest
from regsearch.logs.sqlite import SqliteLog

READ_BATCH = 1000


class InProcessSearch:
    """Registry Search's own index, searched in this process as ``/api/v1/search`` would."""

    name = "registry-search"

    def __init__(self, index_dir: Path) -> None:
        self._index = SearchIndex.open(index_dir)

    def build(self, documents: Iterable[RepositoryDocument]) -> None:
        """Nothing to build: the service's follower already did."""

    def search(self, q: str, limit: int, arch: str | None = None) -> PeerAnswer:
        """The first page of ``/api/v1/search?q=q&n=limit&arch=arch``, as a peer answers."""
        check_limit(limit)
        page = self._index.search(SearchRequest(q=q, limit=limit, arch=arch))
        return PeerAnswer(page.total, tuple(d.name for d in page.documents if isinstance(d, RepositoryDocument)))

    def segments(self) -> dict[str, int]:
        """Segments per kind of the index searched: each search pays per segment."""
        return {str(kind): n for kind, n in self._index.segments().items()}

    def close(self) -> None:
        self._index.close()


def repository_documents(data_dir: Path) -> list[RepositoryDocument]:
    """The live repository documents in the document log of a ``regsearch serve`` data directory."""
    log = SqliteLog(data_dir / "documents.sqlite3", compacted=True, fsync=False)
    latest: dict[str, bytes | None] = {}
    try:
        offset = 0
        while batch := log.read(offset, READ_BATCH):
            latest.update((record.key, record.value) for record in batch)
            offset = batch[-1].offset + 1
    finally:
        log.close()
    documents = (document_from_json(value) for value in latest.values() if value is not None)
    return [doc for doc in documents if isinstance(doc, RepositoryDocument)]


def compare(
    data_dir: Path,
    queries: Sequence[BenchQuery],
    limit: int,
    rounds: int,
    catalog: CatalogWalk | None = None,
    catalog_rounds: int = 1,
    catalog_queries: Sequence[BenchQuery] | None = None,
) -> dict[str, Any]:
    """Each peer's figures over ``queries`` (see :func:`bench.peers.peer_figures`: latency, requests/s,
    totals by query label, unsupported categories), plus ``vs_registry_search``: its p50 and p99 over
    Registry Search's on the queries it answered (above 1: that peer is slower; None without any).

    ``catalog``, when given, is measured too with ``catalog_rounds`` rounds of ``catalog_queries``
    (default ``queries``): every walk costs the same whatever the query, and at 100,000
    repositories a walk takes seconds. The caller keeps and closes it. The peers built here are
    closed before this returns.
    """
    documents = repository_documents(data_dir)
    timings: list[Timings] = []
    segments: dict[str, int] = {}
    for peer, peer_rounds in _peers(data_dir, catalog, rounds, catalog_rounds):
        asked = catalog_queries if peer is catalog and catalog_queries is not None else queries
        try:
            peer.build(documents)
            if peer is not catalog:  # a walk has no first-use cost but a connection, and takes minutes at 100,000
                warm_up(peer, asked, limit)
            timings.append(time_peer(peer, asked, limit, peer_rounds))
            if isinstance(peer, InProcessSearch):
                segments = peer.segments()
        finally:
            if peer is not catalog:
                peer.close()
    ours = timings[0]
    figures = {t.peer: {**peer_figures(t), "vs_registry_search": ratios(t, ours)} for t in timings}
    return {
        "documents": len(documents),
        "segments": segments,
        "limit": limit,
        "rounds": rounds,
        "catalog_rounds": catalog_rounds if catalog is not None else None,
        "peers": figures,
    }


def _peers(data_dir: Path, catalog: CatalogWalk | None, rounds: int, catalog_rounds: int) -> Iterable[tuple[Peer, int]]:
    """Registry Search first, then each peer with its rounds, each created only when its turn comes."""
    yield InProcessSearch(data_dir / "index"), rounds
    yield SqlLike(), rounds
    yield SqlFts5(), rounds
    if catalog is not None:
        yield catalog, catalog_rounds


def warm_up(peer: Peer, queries: Sequence[BenchQuery], limit: int) -> None:
    """Search every query ``peer`` answers once, untimed: first-use costs are not a query's.

    Each peer has its own: SQLite prepares each statement once and fills its
    page cache, Registry Search reads each segment's field lengths and builds
    each architecture filter once per index generation. The timed rounds
    then measure the steady state a service answering these queries all day
    is in.
    """
    for query in queries:
        try:
            peer.search(query.text, limit, arch=query.arch)
        except Unsupported:
            continue


def ratios(peer: Timings, ours: Timings) -> dict[str, float] | None:
    """``peer``'s median and p99 over ``ours`` on the same queries: those ``peer`` answered."""
    theirs, mine = peer.samples(), ours.samples(peer.seconds)
    if not theirs or not mine:
        return None
    quantiles = {"median": 50, "p99": 99}
    return {name: round(percentile(theirs, p) / percentile(mine, p), 2) for name, p in quantiles.items()}
