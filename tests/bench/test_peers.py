"""The SQL peers of the benchmark answer exactly what their docstrings promise.

Nine hand-made repositories; each query pins the total and the order of
the best names, so a baseline that counts wrongly or leaks a wildcard fails.
Architecture filters are checked against Registry Search's own index, built
from the same documents. The catalog walk needs a registry for searching
(``tests/integration/test_bench_peers.py``), not for refusing a filter.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.peers import (
    BenchQuery,
    CatalogWalk,
    PeerAnswer,
    SqlFts5,
    SqlLike,
    Unsupported,
    fts5_query,
    like_pattern,
    measure_peer,
    platform_keywords,
    require_fts5,
)
from indexer.documents import Platform, RepositoryDocument
from indexer.index import SearchIndex, SearchRequest


def _doc(
    name: str, description: str, *platforms: str, title: str | None = None, **labels: str
) -> RepositoryDocument:
    """A repository document; each platform is ``os/architecture[/variant]``."""
    return RepositoryDocument(
        "registry.test", name, tags=("latest",), platforms=tuple(Platform(*p.split("/")) for p in platforms),
        title=title, description=description, labels=labels,
    )


DOCUMENTS = (
    _doc("library/nginx", "High performance web server and reverse proxy", "linux/amd64", "linux/arm64",
         "linux/arm/v7", title="nginx", vendor="NGINX Inc"),
    _doc("bench/nginx-proxy", "Automated reverse proxy for containers", "linux/amd64"),
    _doc("tools/nginx-exporter", "Prometheus exporter for web server metrics", "linux/arm64"),
    _doc("library/postgres", "Object-relational database server", "linux/amd64", "linux/ppc64le"),
    _doc("team/web_app", "Demo web application, 100% tested", "linux/amd64"),
    _doc("team/webxapp", "Another demo application"),
    _doc("library/redis", "In-memory key value store", "linux/amd64", "linux/s390x", maintainer="O'Brien \"Bob\""),
    _doc("lab/redisx", "Redis fork for arm64 boards", "linux/arm/v6"),
    _doc("tools/connectors", "Connecting databases", "windows/amd64"),
)
NAMES = tuple(doc.name for doc in DOCUMENTS)
NGINX = ("library/nginx", "bench/nginx-proxy", "tools/nginx-exporter")
NO_MATCH = PeerAnswer(0, ())
AMD64 = 6

LIKE_ANSWERS = {
    "proxy": PeerAnswer(2, ("bench/nginx-proxy", "library/nginx")),
    "web server": PeerAnswer(2, ("library/nginx", "tools/nginx-exporter")),
    "nginx proxy": PeerAnswer(2, ("bench/nginx-proxy", "library/nginx")),
    "ngin*": PeerAnswer(3, NGINX),
    "xapp*": PeerAnswer(1, ("team/webxapp",)),
    "redis": PeerAnswer(2, ("library/redis", "lab/redisx")),
    "library/redis": PeerAnswer(1, ("library/redis",)),
    "connect": PeerAnswer(1, ("tools/connectors",)),
    "web_app": PeerAnswer(1, ("team/web_app",)),
    "10%tested": NO_MATCH,
    "100%": PeerAnswer(1, ("team/web_app",)),
    "o'brien": PeerAnswer(1, ("library/redis",)),
    '"bob': PeerAnswer(1, ("library/redis",)),
    "zzqxjvw": NO_MATCH,
    "nginx zzqxjvw": NO_MATCH,
}
FTS5_ANSWERS = {
    "proxy": PeerAnswer(2, ("bench/nginx-proxy", "library/nginx")),
    "web server": PeerAnswer(2, ("tools/nginx-exporter", "library/nginx")),
    "nginx proxy": PeerAnswer(2, ("bench/nginx-proxy", "library/nginx")),
    "ngin*": PeerAnswer(3, ("library/nginx", "bench/nginx-proxy", "tools/nginx-exporter")),
    "xapp*": NO_MATCH,
    "redis": PeerAnswer(2, ("library/redis", "lab/redisx")),
    "library/redis": PeerAnswer(1, ("library/redis",)),
    "connect": PeerAnswer(1, ("tools/connectors",)),
    "web_app": PeerAnswer(1, ("team/web_app",)),
    "10%tested": NO_MATCH,
    "100%": PeerAnswer(1, ("team/web_app",)),
    "o'brien": PeerAnswer(1, ("library/redis",)),
    '"bob': PeerAnswer(1, ("library/redis",)),
    "zzqxjvw": NO_MATCH,
    "nginx zzqxjvw": NO_MATCH,
}


@pytest.fixture(scope="module")
def like() -> Iterator[SqlLike]:
    peer = SqlLike()
    peer.build(DOCUMENTS)
    yield peer
    peer.close()


@pytest.fixture(scope="module")
def fts5() -> Iterator[SqlFts5]:
    peer = SqlFts5()
    peer.build(DOCUMENTS)
    yield peer
    peer.close()


@pytest.mark.parametrize(("q", "expected"), LIKE_ANSWERS.items())
def test_like_answers(like: SqlLike, q: str, expected: PeerAnswer) -> None:
    assert like.search(q, 10) == expected


@pytest.mark.parametrize(("q", "expected"), FTS5_ANSWERS.items())
def test_fts5_answers(fts5: SqlFts5, q: str, expected: PeerAnswer) -> None:
    assert fts5.search(q, 10) == expected


@pytest.mark.parametrize("q", ["", "*", "  "])
def test_a_query_without_chunks_lists_every_repository_shorter_names_first(
    like: SqlLike, fts5: SqlFts5, q: str
) -> None:
    expected = PeerAnswer(len(NAMES), ("lab/redisx", "team/web_app", "team/webxapp"))
    assert like.search(q, 3) == fts5.search(q, 3) == expected


def test_a_query_of_punctuation_alone_is_literal_for_like_and_ignored_by_fts5(like: SqlLike, fts5: SqlFts5) -> None:
    assert like.search("%", 10) == PeerAnswer(1, ("team/web_app",))
    assert fts5.search("%", 10).total == len(NAMES)


@pytest.mark.parametrize("peer", ["like", "fts5"])
def test_the_total_counts_every_match_beyond_the_limit(request: pytest.FixtureRequest, peer: str) -> None:
    answer = request.getfixturevalue(peer).search("ngin*", 1)
    assert answer == PeerAnswer(3, ("library/nginx",))


@pytest.mark.parametrize("peer_type", [SqlLike, SqlFts5])
def test_build_replaces_what_was_built_before(peer_type: type[SqlLike] | type[SqlFts5]) -> None:
    peer = peer_type()
    peer.build(DOCUMENTS)
    peer.build(DOCUMENTS[:1])
    assert peer.search("", 10) == PeerAnswer(1, ("library/nginx",))
    peer.close()


def test_a_database_file_survives_reopening(tmp_path: Path) -> None:
    path = str(tmp_path / "peer.sqlite")
    first = SqlFts5(path)
    first.build(DOCUMENTS)
    first.close()
    again = SqlFts5(path)
    assert again.search("redis", 10) == FTS5_ANSWERS["redis"]
    again.close()


def test_like_patterns_escape_wildcards_and_the_escape_character() -> None:
    assert like_pattern("a%b_c\\d") == "%a\\%b\\_c\\\\d%"


def test_fts5_queries_quote_every_token_and_keep_a_trailing_star_as_prefix() -> None:
    assert fts5_query('ngin* "x y" a_b* % web') == '"ngin"* AND "x" AND "y" AND "a" AND "b"* AND "web"'
    assert fts5_query('% * ""') == ""


def test_this_sqlite_has_fts5() -> None:
    require_fts5()
    assert sqlite3.sqlite_version_info >= (3, 9, 0)


@pytest.mark.parametrize("peer", ["like", "fts5"])
def test_a_limit_below_one_is_refused(request: pytest.FixtureRequest, peer: str) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        request.getfixturevalue(peer).search("nginx", 0)


# -- filtered by architecture --------------------------------------------------------------------

# (text, arch) → the answer of both SQL peers at limit 10.
ARCH_ANSWERS = {
    ("", "arm64"): PeerAnswer(2, ("library/nginx", "tools/nginx-exporter")),
    ("", "ARM64"): PeerAnswer(2, ("library/nginx", "tools/nginx-exporter")),
    ("", "arm"): PeerAnswer(2, ("lab/redisx", "library/nginx")),
    ("", "arm/v7"): PeerAnswer(1, ("library/nginx",)),
    ("", "v7"): NO_MATCH,
    ("nginx", "amd64"): PeerAnswer(2, ("library/nginx", "bench/nginx-proxy")),
    ("nginx", "arm64"): PeerAnswer(2, ("library/nginx", "tools/nginx-exporter")),
    ("redis", "arm64"): NO_MATCH,
    ("redis", "s390x"): PeerAnswer(1, ("library/redis",)),
    ("", "mips"): NO_MATCH,
    ("zzqxjvw", "amd64"): NO_MATCH,
    ("", "linux"): NO_MATCH,
    ("", "amd64 arm64"): NO_MATCH,
    ("", "arm%"): NO_MATCH,
    ("", "_md64"): NO_MATCH,
}
ARCHES = ("arm64", "ARM64", "arm", "arm/v6", "arm/v7", "amd64", "ppc64le", "mips", "", "arm64 amd64", "%")


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchIndex]:
    """Registry Search's own index over ``DOCUMENTS``."""
    built = SearchIndex.open(tmp_path_factory.mktemp("index"))
    built.apply([(doc.doc_id, doc) for doc in DOCUMENTS], {0: len(DOCUMENTS)})
    yield built
    built.close()


@pytest.mark.parametrize("peer", ["like", "fts5"])
@pytest.mark.parametrize(("query", "expected"), ARCH_ANSWERS.items(), ids=[f"{q}|{a}" for q, a in ARCH_ANSWERS])
def test_an_arch_filter_keeps_repositories_with_that_exact_architecture(
    request: pytest.FixtureRequest, peer: str, query: tuple[str, str], expected: PeerAnswer
) -> None:
    text, arch = query
    assert request.getfixturevalue(peer).search(text, 10, arch=arch) == expected


@pytest.mark.parametrize("peer", ["like", "fts5"])
@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("text", ["", "nginx", "ngin*", "server", "arm64"])
def test_filtered_totals_equal_registry_search_totals(
    request: pytest.FixtureRequest, index: SearchIndex, peer: str, arch: str, text: str
) -> None:
    """Where the peer's text semantics agree with Registry Search's, so do its filtered totals."""
    unfiltered = request.getfixturevalue(peer).search(text, 10).total
    assert unfiltered == index.search(SearchRequest(q=text, limit=10)).total
    expected = index.search(SearchRequest(q=text, limit=10, arch=arch)).total
    assert request.getfixturevalue(peer).search(text, 10, arch=arch).total == expected


@pytest.mark.parametrize("peer", ["like", "fts5"])
def test_an_architecture_is_not_free_text_nor_free_text_an_architecture(request: pytest.FixtureRequest, peer: str) -> None:
    searcher = request.getfixturevalue(peer)
    assert searcher.search("arm64", 10) == PeerAnswer(1, ("lab/redisx",))
    assert searcher.search("", 10, arch="arm64").names == ("library/nginx", "tools/nginx-exporter")


@pytest.mark.parametrize("peer", ["like", "fts5"])
def test_an_empty_or_absent_arch_is_no_filter(request: pytest.FixtureRequest, peer: str) -> None:
    searcher = request.getfixturevalue(peer)
    assert searcher.search("", 3, arch="") == searcher.search("", 3, arch=None) == searcher.search("", 3)


@pytest.mark.parametrize("peer", ["like", "fts5"])
def test_a_filtered_total_counts_every_match_beyond_the_limit(request: pytest.FixtureRequest, peer: str) -> None:
    assert request.getfixturevalue(peer).search("", 1, arch="amd64") == PeerAnswer(AMD64, ("team/web_app",))


def test_platform_keywords_are_architectures_and_variants_in_lower_case() -> None:
    platforms = [Platform("linux", "ARM", "v7"), Platform("linux", "amd64"), Platform("windows", "amd64"), Platform("linux", "")]
    assert platform_keywords(platforms) == ["amd64", "arm", "arm/v7"]


def test_the_catalog_walk_refuses_an_arch_filter_before_any_request() -> None:
    walk = CatalogWalk("http://127.0.0.1:9")  # nothing listens: a request would fail otherwise
    with pytest.raises(Unsupported, match="architecture"):
        walk.search("nginx", 10, arch="arm64")
    walk.close()


# -- measure_peer --------------------------------------------------------------------------------


class _SleepingPeer:
    """Answers every unfiltered query after ``delay_s``; refuses filtered ones, as the catalog walk does."""

    name = "sleeper"

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.calls: list[tuple[str, str | None]] = []

    def build(self, documents: object) -> None:
        pass

    def search(self, q: str, limit: int, arch: str | None = None) -> PeerAnswer:
        self.calls.append((q, arch))
        if arch:
            raise Unsupported("no architectures here")
        time.sleep(self.delay_s)
        return PeerAnswer(len(q), ())

    def close(self) -> None:
        pass


MIXED = (
    BenchQuery("word", "nginx"),
    BenchQuery("arch", "", "arm64"),
    BenchQuery("arch", "nginx", "amd64"),
    BenchQuery("mixed", "redis"),
    BenchQuery("mixed", "redis", "arm64"),
)


def test_measure_peer_skips_refused_queries_and_says_so() -> None:
    peer = _SleepingPeer(0.0)
    figures = measure_peer(peer, MIXED, 10, rounds=3)
    assert figures["latency_ms"]["count"] == 6
    assert set(figures["by_category_ms"]) == set(figures["by_category_requests_per_s"]) == {"word", "mixed"}
    assert figures["by_category_ms"]["mixed"]["count"] == 3
    assert figures["unsupported"] == {"arch": 2, "mixed": 1}
    assert figures["totals"] == {
        "nginx": 5, "redis": 5, " [arch=arm64]": None, "nginx [arch=amd64]": None, "redis [arch=arm64]": None,
    }
    assert peer.calls.count(("", "arm64")) == 1, "a refused query is not asked again"


def test_requests_per_second_are_searches_over_the_timed_loop() -> None:
    figures = measure_peer(_SleepingPeer(0.01), MIXED[:1] + MIXED[3:4], 10, rounds=5)
    assert 20 < figures["requests_per_s"] <= 100
    for rate in figures["by_category_requests_per_s"].values():
        assert 20 < rate <= 100
    assert figures["peer"] == "sleeper" and figures["limit"] == 10


def test_a_peer_refusing_every_query_has_no_figures_but_says_why() -> None:
    figures = measure_peer(_SleepingPeer(0.0), MIXED[1:3], 10, rounds=2)
    assert figures["latency_ms"] == {"count": 0} and figures["by_category_ms"] == {}
    assert figures["requests_per_s"] is None and figures["unsupported"] == {"arch": 2}


def test_measure_peer_times_a_real_peer_per_category(like: SqlLike) -> None:
    queries = [BenchQuery("word", "nginx"), BenchQuery("filtered", "nginx", "arm64"), BenchQuery("filtered", "", "arm")]
    figures = measure_peer(like, queries, 10, rounds=4)
    assert figures["latency_ms"]["count"] == 12 and figures["by_category_ms"]["filtered"]["count"] == 8
    assert figures["requests_per_s"] > 0 and figures["unsupported"] == {}
    assert figures["totals"] == {"nginx": 3, "nginx [arch=arm64]": 2, " [arch=arm]": 2}
