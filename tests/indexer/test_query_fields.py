"""Searching in the query language: each field, the operators, and tag-level fields on repositories."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from indexer.documents import Document, Platform, RepositoryDocument, TagDocument
from indexer.index import SearchIndex, SearchRequest
from indexer.query_language import Exact, QuerySyntaxError

REGISTRY = "registry.example:5000"
AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")
BASE_LAYER = "sha256:" + "b" * 64
NGINX_DIGEST = "sha256:4e07f3a1b2c3" + "1" * 52


def tag(repository: str, name: str, **kwargs: Any) -> TagDocument:
    fields: dict[str, Any] = {"digest": f"sha256:{repository}-{name}", "media_type": "application/vnd.oci.image.manifest.v1+json"}
    fields.update(kwargs)
    return TagDocument(registry=REGISTRY, repository=repository, tag=name, **fields)


def repo(name: str, tags: tuple[TagDocument, ...], **kwargs: Any) -> RepositoryDocument:
    platforms = tuple(sorted({p for t in tags for p in t.platforms}))
    pushed = max((t.pushed for t in tags if t.pushed), default=None)
    return RepositoryDocument(registry=REGISTRY, name=name, tags=tuple(t.tag for t in tags), platforms=platforms,
                              pushed=pushed, **kwargs)


NGINX_TAGS = (
    tag("web/nginx", "1.25", digest=NGINX_DIGEST, platforms=(AMD64, ARM64), pushed="2026-03-01T10:00:00Z",
        layers=(BASE_LAYER, "sha256:" + "c" * 64), labels={"maintainer": "Jane Doe"},
        annotations={"org.opencontainers.image.vendor": "Example Corp"}),
    tag("web/nginx", "latest", platforms=(AMD64, ARM64), pushed="2026-03-01T10:00:00Z", layers=(BASE_LAYER,)),
)
REDIS_TAGS = (
    tag("cache/redis", "7.2-alpine", platforms=(AMD64,), pushed="2025-12-24T08:00:00Z", layers=(BASE_LAYER,),
        labels={"deprecated": "true"}),
)
TOOLS_TAGS = (
    tag("web/tools/curl", "8.5", platforms=(ARM64,), pushed="2026-01-15T00:00:00Z",
        description="command line tool for transferring data with URL syntax"),
)
REPOSITORIES = (
    repo("web/nginx", NGINX_TAGS, description="high performance reverse proxy server"),
    repo("cache/redis", REDIS_TAGS, description="in-memory data store used as a cache"),
    repo("web/tools/curl", TOOLS_TAGS, description="command line tool for transferring data with URL syntax"),
)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchIndex]:
    opened = SearchIndex.open(Path(tmp_path_factory.mktemp("index")))
    documents: list[Document] = [*NGINX_TAGS, *REDIS_TAGS, *TOOLS_TAGS, *REPOSITORIES]
    opened.apply([(doc.doc_id, doc) for doc in documents], {0: len(documents)})
    yield opened
    opened.close()


def found(index: SearchIndex, q: str, kind: str = "repository") -> set[str]:
    page = index.search(SearchRequest(q=q, kind=kind, language=True, limit=100))  # type: ignore[arg-type]
    names = {d.name if isinstance(d, RepositoryDocument) else f"{d.repository}:{d.tag}" for d in page.documents}
    assert page.total == len(names)
    return names


@pytest.mark.parametrize(
    ("q", "repositories"),
    [
        ("nginx", {"web/nginx"}),
        ("proxy server", {"web/nginx"}),
        ('"reverse proxy"', {"web/nginx"}),
        ('"proxy reverse"', set()),
        ("arch:arm64", {"web/nginx", "web/tools/curl"}),
        ("arch:arm64 NOT namespace:web/tools", {"web/nginx"}),
        ("namespace:web", {"web/nginx", "web/tools/curl"}),
        ("namespace:web/tools", {"web/tools/curl"}),
        ("namespace:we", set()),
        (f"registry:{REGISTRY}", {"web/nginx", "cache/redis", "web/tools/curl"}),
        ("registry:other.example", set()),
        ("tag:latest", {"web/nginx"}),
        ("tag:7.*", {"cache/redis"}),
        ("tag:*alpine", {"cache/redis"}),
        ("label:deprecated", {"cache/redis"}),
        ('label:maintainer="jane doe"', {"web/nginx"}),
        ("label:maintainer=someone", set()),
        ('annotation:org.opencontainers.image.vendor="Example Corp"', {"web/nginx"}),
        (f"digest:{BASE_LAYER}", {"web/nginx", "cache/redis"}),
        (f"digest:{NGINX_DIGEST}", {"web/nginx"}),
        ("digest:4e07f3a1b2c3", {"web/nginx"}),
        ("digest:" + "b" * 12, {"web/nginx", "cache/redis"}),
        ("digest:" + "d" * 12, set()),
        ("pushed:>=2026-01-01", {"web/nginx", "web/tools/curl"}),
        ("pushed:2025-12", {"cache/redis"}),
        ("pushed:<2026-03-01", {"cache/redis", "web/tools/curl"}),
        ("pushed:2026-01-15..2026-03-01", {"web/nginx", "web/tools/curl"}),
        ("nginx OR redis", {"web/nginx", "cache/redis"}),
        ("(nginx OR redis) arch:arm64", {"web/nginx"}),
        ("NOT nginx", {"cache/redis", "web/tools/curl"}),
        ("NOT label:deprecated NOT arch:arm64", set()),
        ("NOT label:nothing-has-this", {"web/nginx", "cache/redis", "web/tools/curl"}),
    ],
)
def test_each_field_and_operator_finds_exactly_its_repositories(index: SearchIndex, q: str, repositories: set[str]) -> None:
    assert found(index, q) == repositories


@pytest.mark.parametrize(
    ("q", "tags"),
    [
        (f"digest:{BASE_LAYER}", {"web/nginx:1.25", "web/nginx:latest", "cache/redis:7.2-alpine"}),
        ("label:maintainer", {"web/nginx:1.25"}),
        ("tag:1.* OR tag:8.*", {"web/nginx:1.25", "web/tools/curl:8.5"}),
        ("nginx NOT tag:latest", {"web/nginx:1.25"}),
        ("NOT arch:amd64", {"web/tools/curl:8.5"}),
    ],
)
def test_tag_searches_read_the_tags_own_fields(index: SearchIndex, q: str, tags: set[str]) -> None:
    assert found(index, q, kind="tag") == tags


def test_a_single_word_equal_to_a_name_ranks_that_repository_first(index: SearchIndex) -> None:
    page = index.search(SearchRequest(q="curl OR nginx", language=True))
    assert {d.name for d in page.documents if isinstance(d, RepositoryDocument)} == {"web/nginx", "web/tools/curl"}
    first = index.search(SearchRequest(q="curl", language=True)).documents[0]
    assert isinstance(first, RepositoryDocument) and first.name == "web/tools/curl"


def test_a_blank_query_lists_everything_newest_first(index: SearchIndex) -> None:
    page = index.search(SearchRequest(q="  ", language=True))
    assert [d.name for d in page.documents if isinstance(d, RepositoryDocument)] == ["web/nginx", "web/tools/curl", "cache/redis"]


def test_a_syntax_error_raises(index: SearchIndex) -> None:
    with pytest.raises(QuerySyntaxError):
        index.search(SearchRequest(q="(nginx", language=True))


def test_plain_words_keep_their_meaning(index: SearchIndex) -> None:
    # /v1/search sends plain words: "OR" and "arch:arm64" are text there, never operators or fields.
    assert index.search(SearchRequest(q="nginx OR redis")).total == 0
    assert index.search(SearchRequest(q="(nginx")).total == 1


@pytest.mark.parametrize(
    ("q", "sort", "order"),
    [
        ("", "name", ["cache/redis", "web/nginx", "web/tools/curl"]),
        ("", "updated", ["web/nginx", "web/tools/curl", "cache/redis"]),
        ("", "pulls", ["cache/redis", "web/tools/curl", "web/nginx"]),
        ("NOT nginx", "name", ["cache/redis", "web/tools/curl"]),
        ("data", "updated", ["web/tools/curl", "cache/redis"]),
        ("data", "pulls", ["cache/redis", "web/tools/curl"]),
    ],
)
def test_sort_orders_every_match(tmp_path: Path, q: str, sort: str, order: list[str]) -> None:
    index = SearchIndex.open(tmp_path / "index")
    pulls = {"cache/redis": 9, "web/tools/curl": 3, "web/nginx": 0}
    documents = [replace(r, pulls=pulls[r.name]) for r in REPOSITORIES]
    index.apply([(d.doc_id, d) for d in documents], {0: 3})
    page = index.search(SearchRequest(q=q, language=True, sort=sort, limit=2))  # type: ignore[arg-type]
    assert page.total == len(order)
    assert [d.name for d in page.documents if isinstance(d, RepositoryDocument)] == order[:2]
    rest = index.search(SearchRequest(q=q, language=True, sort=sort, offset=2))  # type: ignore[arg-type]
    assert [d.name for d in rest.documents if isinstance(d, RepositoryDocument)] == order[2:]
    index.close()


def test_suggestions_complete_names_and_last_segments_most_pulled_first(tmp_path: Path) -> None:
    index = SearchIndex.open(tmp_path / "index")
    pulls = {"cache/redis": 9, "web/tools/curl": 3, "web/nginx": 0}
    documents: list[Document] = [*NGINX_TAGS, *[replace(r, pulls=pulls[r.name]) for r in REPOSITORIES]]
    index.apply([(d.doc_id, d) for d in documents], {0: len(documents)})
    assert [s.text for s in index.suggest("web", 10)] == ["web/tools/curl", "web/nginx"]
    assert [s.text for s in index.suggest("CU", 10)] == ["web/tools/curl"]  # last segment, any case
    assert [(s.text, s.pulls) for s in index.suggest("", 2)] == [("cache/redis", 9), ("web/tools/curl", 3)]
    assert index.suggest("zz", 10) == []
    assert [(s.text, s.kind) for s in index.suggest("web/nginx:", 10)] == [("web/nginx:1.25", "tag"), ("web/nginx:latest", "tag")]
    assert [s.text for s in index.suggest("web/nginx:l", 10)] == ["web/nginx:latest"]
    assert index.suggest("nothing:l", 10) == []
    index.close()


@pytest.mark.parametrize(
    ("q", "meant"),
    [
        ("ngnix", "nginx"),
        ("redsi", "redis"),
        ("ngnix arch:arm64", "nginx arch:arm64"),
        ("nginx", None),  # known
        ("proxies", None),  # a description's word, by its stem
        ("ngi*", None),  # prefixes, fields and operators are left alone
        ("qqqqqq", None),  # nothing near
    ],
)
def test_did_you_mean_respells_unknown_words_as_names_do(index: SearchIndex, q: str, meant: str | None) -> None:
    assert index.did_you_mean(q) == meant


def test_facets_count_every_match_each_without_its_own_filter(index: SearchIndex) -> None:
    everything = index.facets(SearchRequest(language=True))
    assert everything["arch"] == {"amd64": 2, "arm64": 2}
    assert everything["os"] == {"linux": 3}
    assert everything["namespace"] == {"web": 2, "cache": 1, "web/tools": 1}
    assert everything["registry"] == {REGISTRY: 3}
    assert everything["label"] == {}  # repository documents hold no label entries; tags do

    arm = index.facets(SearchRequest(language=True, arch="arm64", conditions=(Exact("namespace", "web"),)))
    assert arm["arch"] == {"amd64": 1, "arm64": 2}  # the namespace filter applies, not the arch one
    assert arm["namespace"] == {"web": 2, "web/tools": 1}  # the arch filter applies, not the namespace one
    assert arm["os"] == {"linux": 2}

    tags = index.facets(SearchRequest(kind="tag", q="NOT tag:latest", language=True))
    assert tags["label"] == {"deprecated": 1, "maintainer": 1}
    assert tags["arch"] == {"amd64": 2, "arm64": 2}
    assert index.facets(SearchRequest(q="zzzz", language=True))["arch"] == {}


def test_highlights_mark_the_query_words_escaped_and_stemmed(tmp_path: Path) -> None:
    index = SearchIndex.open(tmp_path / "index")
    odd = repo("odd/app", (), title="Proxy <b>tools</b>", description="It proxies & caches; nothing else.")
    index.apply([(d.doc_id, d) for d in (*REPOSITORIES, odd)], {0: 4})
    request = SearchRequest(q="prox* OR cache", language=True)
    page = index.search(request)
    marked = dict(zip((d.name for d in page.documents if isinstance(d, RepositoryDocument)), index.highlights(request, page.documents)))
    assert marked["odd/app"] == {"title": ["<em>Proxy</em> &lt;b&gt;tools&lt;/b&gt;"],
                                 "description": ["It <em>proxies</em> &amp; <em>caches</em>; nothing else."]}
    assert marked["web/nginx"] == {"description": ["high performance reverse <em>proxy</em> server"]}
    assert index.highlights(SearchRequest(language=True), page.documents) == [{}] * len(page.documents)
    index.close()


def test_ranking_tiers_exact_name_then_last_segment_then_prefix_then_elsewhere(tmp_path: Path) -> None:
    index = SearchIndex.open(tmp_path / "index")
    names = ["nginx", "web/nginx", "web/nginx-proxy", "nginx/tools", "other/app"]
    documents = [RepositoryDocument(registry=REGISTRY, name=n, description="an nginx image" if n == "other/app" else "nginx "
                                    "nginx nginx: a description repeating the word, which text relevance alone would rank first")
                 for n in names]
    index.apply([(d.doc_id, d) for d in documents], {0: len(documents)})
    page = index.search(SearchRequest(q="nginx", language=True))
    assert [d.name for d in page.documents if isinstance(d, RepositoryDocument)] == [
        "nginx", "web/nginx", "web/nginx-proxy", "nginx/tools", "other/app"]
    assert [d.name for d in index.search(SearchRequest(q="web/nginx")).documents if isinstance(d, RepositoryDocument)][:2] == [
        "web/nginx", "web/nginx-proxy"]
    index.close()


def test_popularity_lifts_a_match_within_its_tier(tmp_path: Path) -> None:
    index = SearchIndex.open(tmp_path / "index")
    same = "a small web server"
    documents = [RepositoryDocument(registry=REGISTRY, name=n, description=same, pulls=p)
                 for n, p in (("a/first", 0), ("b/second", 5000), ("server", 0))]
    index.apply([(d.doc_id, d) for d in documents], {0: 3})
    page = index.search(SearchRequest(q="server", language=True))
    # the exact name still wins; of two equal text matches, the pulled one comes first
    assert [d.name for d in page.documents if isinstance(d, RepositoryDocument)] == ["server", "b/second", "a/first"]
    index.close()
