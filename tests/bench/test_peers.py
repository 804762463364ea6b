"""The SQL peers of the benchmark answer exactly what their docstrings promise.

Nine hand-made repositories; each query pins the total and the order of
the best names, so a baseline that counts wrongly or leaks a wildcard fails.
The catalog walk needs a registry: ``tests/integration/test_bench_peers.py``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.peers import PeerAnswer, SqlFts5, SqlLike, fts5_query, like_pattern, require_fts5
from indexer.documents import RepositoryDocument


def _doc(name: str, description: str, title: str | None = None, **labels: str) -> RepositoryDocument:
    return RepositoryDocument("registry.test", name, tags=("latest",), title=title, description=description, labels=labels)


DOCUMENTS = (
    _doc("library/nginx", "High performance web server and reverse proxy", title="nginx", vendor="NGINX Inc"),
    _doc("bench/nginx-proxy", "Automated reverse proxy for containers"),
    _doc("tools/nginx-exporter", "Prometheus exporter for web server metrics"),
    _doc("library/postgres", "Object-relational database server"),
    _doc("team/web_app", "Demo web application, 100% tested"),
    _doc("team/webxapp", "Another demo application"),
    _doc("library/redis", "In-memory key value store", maintainer="O'Brien \"Bob\""),
    _doc("lab/redisx", "Redis fork"),
    _doc("tools/connectors", "Connecting databases"),
)
NAMES = tuple(doc.name for doc in DOCUMENTS)
NGINX = ("library/nginx", "bench/nginx-proxy", "tools/nginx-exporter")
NO_MATCH = PeerAnswer(0, ())

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
