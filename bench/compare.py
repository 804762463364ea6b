"""Registry Search beside the SQL alternatives, like for like, in the same run.

The peers of ``bench/peers.py`` are built from exactly the repository
documents the running service indexed (read from its document log), and
Registry Search is timed the same way they are: in this process, through
:meth:`SearchIndex.search` on the service's own index directory (opened
read-only), so no side pays for HTTP. Every peer gets the same queries, the
same result limit and the same number of rounds; the figures say how many
matches each counted, so a difference in semantics shows next to a
difference in speed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.peers import Peer, PeerAnswer, SqlFts5, SqlLike, check_limit, measure_peer
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

    def search(self, q: str, limit: int) -> PeerAnswer:
        check_limit(limit)
        page = self._index.search(SearchRequest(q=q, limit=limit))
        return PeerAnswer(page.total, tuple(d.name for d in page.documents if isinstance(d, RepositoryDocument)))

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


def compare(data_dir: Path, queries: Sequence[tuple[str, str]], limit: int, rounds: int) -> dict[str, Any]:
    """Each peer's latency over ``queries`` (``(category, text)``), its match counts, and its p50/p99
    relative to Registry Search's (above 1: that peer is slower)."""
    documents = repository_documents(data_dir)
    peers: list[Peer] = [InProcessSearch(data_dir / "index"), SqlLike(), SqlFts5()]
    figures: dict[str, Any] = {}
    try:
        for peer in peers:
            peer.build(documents)
            peer.search(queries[0][1], limit)  # warm up: first-use costs are not the query's
            figures[peer.name] = {
                **measure_peer(peer, queries, limit, rounds),
                "totals": {text: peer.search(text, limit).total for _, text in queries},
            }
    finally:
        for peer in peers:
            peer.close()
    ours = figures[InProcessSearch.name]["latency_ms"]
    for name, peer_figures in figures.items():
        latency = peer_figures["latency_ms"]
        peer_figures["vs_registry_search"] = {q: round(latency[q] / ours[q], 2) for q in ("median", "p99")}
    return {"documents": len(documents), "limit": limit, "rounds": rounds, "peers": figures}
