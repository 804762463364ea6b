"""The search index contract, against a real Whoosh directory."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3TermsReader
from whoosh.fields import ID, STORED, Schema

import indexer.index
import indexer.merging
import indexer.postings
import indexer.prefixes
import indexer.searchers
import indexer.segment_cache
import indexer.terms
from indexer.documents import Document, Platform, RepositoryDocument, TagDocument
from indexer.index import IndexLocked, SearchIndex, SearchPage, SearchRequest

REGISTRY = "registry.example:5000"
AMD64 = Platform("linux", "amd64")
ARM_V7 = Platform("linux", "arm", "v7")
WINDOWS = Platform("windows", "amd64")


def repo(name: str, **kwargs: Any) -> RepositoryDocument:
    return RepositoryDocument(registry=REGISTRY, name=name, **kwargs)


def tag(repository: str, name: str, **kwargs: Any) -> TagDocument:
    fields: dict[str, Any] = {"digest": f"sha256:{name}", "media_type": "application/vnd.oci.image.manifest.v1+json"}
    fields.update(kwargs)
    return TagDocument(registry=REGISTRY, repository=repository, tag=name, **fields)


def upserts(*docs: Document) -> list[tuple[str, Document | None]]:
    return [(doc.doc_id, doc) for doc in docs]


def names(page: SearchPage) -> list[str]:
    return [doc.name if isinstance(doc, RepositoryDocument) else f"{doc.repository}:{doc.tag}" for doc in page.documents]


@pytest.fixture
def index(tmp_path: Path) -> Iterator[SearchIndex]:
    opened = SearchIndex.open(tmp_path / "index")
    yield opened
    opened.close()


def test_new_index_is_empty_at_offset_zero(index: SearchIndex) -> None:
    assert index.is_empty()
    assert index.applied_positions() == {}
    assert index.search(SearchRequest()) == SearchPage(0, ())


def test_search_returns_exactly_the_applied_document(index: SearchIndex) -> None:
    doc = repo(
        "library/nginx",
        tags=("1.25", "latest"),
        platforms=(AMD64, ARM_V7),
        title="NGINX",
        description="Official build of Nginx.",
        labels={"org.opencontainers.image.vendor": "NGINX Inc."},
        pushed="2024-05-01T10:00:00Z",
        size=123,
        pulls=7,
    )
    index.apply(upserts(doc), {0: 1})

    assert index.search(SearchRequest(q="nginx")) == SearchPage(1, (doc,))
    assert not index.is_empty()


def test_tombstone_removes_the_document(index: SearchIndex) -> None:
    doc = repo("app")
    index.apply(upserts(doc), {0: 1})
    index.apply([(doc.doc_id, None)], {0: 2})

    assert index.search(SearchRequest()).total == 0
    assert index.is_empty()


def test_last_change_for_an_id_in_one_batch_wins(index: SearchIndex) -> None:
    first, second = repo("app", title="first"), repo("app", title="second")
    index.apply(upserts(first, second), {0: 2})
    assert index.search(SearchRequest()).documents == (second,)

    index.apply([(second.doc_id, None), (first.doc_id, first)], {0: 4})
    assert index.search(SearchRequest()).documents == (first,)

    index.apply([(first.doc_id, first), (first.doc_id, None)], {0: 6})
    assert index.is_empty()


def test_repeated_updates_leave_one_document(index: SearchIndex) -> None:
    # Many commits force merges; whoosh-reloaded's Searcher.refresh() would
    # then resurrect replaced segments.
    for offset in range(1, 25):
        index.apply(upserts(repo("app", pulls=offset)), {0: offset})
        page = index.search(SearchRequest())
        assert page.total == 1
        assert page.documents == (repo("app", pulls=offset),)


def test_applied_positions_persist_across_reopen(tmp_path: Path) -> None:
    first = SearchIndex.open(tmp_path / "index")
    first.apply(upserts(repo("app")), {0: 42})
    assert first.applied_positions() == {0: 42}
    first.close()

    reopened = SearchIndex.open(tmp_path / "index")
    assert reopened.applied_positions() == {0: 42}
    assert reopened.search(SearchRequest()).total == 1
    reopened.close()


def test_offset_advances_with_an_empty_batch(index: SearchIndex) -> None:
    index.apply([], {0: 9})
    assert index.applied_positions() == {0: 9}
    assert index.is_empty()


def test_mismatched_key_is_refused_before_writing(index: SearchIndex) -> None:
    with pytest.raises(ValueError, match="not the document's id"):
        index.apply([("repo:elsewhere/app", repo("app"))], {0: 1})
    assert index.applied_positions() == {}
    assert index.is_empty()


@pytest.mark.parametrize("part", ["repositories", "tags"])
def test_second_writer_gets_index_locked(tmp_path: Path, part: str) -> None:
    first = SearchIndex.open(tmp_path / "index")
    second = SearchIndex.open(tmp_path / "index")
    held = whoosh_index.open_dir(str(tmp_path / "index" / part)).writer()
    try:
        with pytest.raises(IndexLocked, match="another process owns the index directory"):
            second.apply(upserts(repo("app"), tag("app", "latest")), {0: 2})
    finally:
        held.cancel()
    assert second.is_empty()
    first.apply(upserts(repo("app")), {0: 1})
    assert first.applied_positions() == {0: 1}
    first.close()
    second.close()


def test_old_single_index_layout_is_rebuilt_empty(tmp_path: Path) -> None:
    path = tmp_path / "index"
    path.mkdir()
    old = whoosh_index.create_in(str(path), Schema(id=ID(unique=True, stored=True), positions=STORED))
    with old.writer() as writer:
        writer.add_document(id="meta:applied-positions", positions='{"0": 99}')
    old.close()
    (path / "unrelated.txt").write_text("kept")

    index = SearchIndex.open(path)
    assert index.applied_positions() == {}
    assert index.is_empty()
    index.apply(upserts(repo("app")), {0: 1})
    index.close()
    assert not whoosh_index.exists_in(str(path))
    assert (path / "unrelated.txt").read_text() == "kept"

    reopened = SearchIndex.open(path)
    assert reopened.applied_positions() == {0: 1}
    reopened.close()


def test_a_different_layout_version_is_rebuilt_empty(tmp_path: Path) -> None:
    index = SearchIndex.open(tmp_path / "index")
    index.apply(upserts(repo("app")), {0: 1})
    index.close()
    (tmp_path / "index" / indexer.index.LAYOUT_FILE).write_text("0: something else\n")

    reopened = SearchIndex.open(tmp_path / "index")
    assert reopened.applied_positions() == {}
    assert reopened.is_empty()
    reopened.close()


def test_tag_only_batch_keeps_positions_and_tombstones_reach_their_kind(index: SearchIndex) -> None:
    latest = tag("app", "latest")
    index.apply(upserts(repo("app"), latest), {0: 2})
    index.apply([(latest.doc_id, None)], {0: 3})
    assert index.applied_positions() == {0: 3}
    assert index.search(SearchRequest(kind="tag")).total == 0
    assert names(index.search(SearchRequest())) == ["app"]
    index.apply([(repo("app").doc_id, None), ("unknown:kind", None)], {0: 5})
    assert index.is_empty()
    assert index.applied_positions() == {0: 5}


def test_segments_stay_few_and_bounded_over_many_commits(index: SearchIndex, tmp_path: Path) -> None:
    for offset in range(1, 121):
        index.apply(upserts(repo(f"app{offset % 40}", pulls=offset), tag(f"app{offset}", "latest")), {0: 2 * offset})
    assert index.search(SearchRequest()).total == 40
    assert index.search(SearchRequest(kind="tag")).total == 120
    for part in ("repositories", "tags"):
        segments = whoosh_index.open_dir(str(tmp_path / "index" / part)).reader().leaf_readers()
        assert len(segments) < indexer.merging.MERGE_FACTOR * 3
        assert all(reader.doc_count_all() <= indexer.merging.MAX_MERGE_DOCS for reader, _ in segments)


def test_reader_sees_commits_of_another_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(indexer.index, "REFRESH_SECONDS", 0.0)
    reader = SearchIndex.open(tmp_path / "index")
    writer = SearchIndex.open(tmp_path / "index")
    assert reader.is_empty()
    writer.apply(upserts(repo("app")), {0: 3})
    assert reader.applied_positions() == {0: 3}
    assert reader.search(SearchRequest()).total == 1
    reader.close()
    writer.close()


def test_kinds_are_searched_separately(index: SearchIndex) -> None:
    index.apply(upserts(repo("nginx"), tag("nginx", "latest")), {0: 2})

    assert names(index.search(SearchRequest(q="nginx"))) == ["nginx"]
    assert names(index.search(SearchRequest(q="nginx", kind="tag"))) == ["nginx:latest"]
    assert index.search(SearchRequest(kind="tag")).total == 1


def test_arch_and_os_filters(index: SearchIndex) -> None:
    index.apply(
        upserts(
            repo("amd", platforms=(AMD64,)),
            repo("arm", platforms=(ARM_V7,)),
            repo("win", platforms=(WINDOWS,)),
            repo("none"),
        ),
        {0: 4},
    )

    def found(**filters: Any) -> set[str]:
        return set(names(index.search(SearchRequest(**filters))))

    assert found(arch="amd64") == {"amd", "win"}
    assert found(arch="AMD64", os="linux") == {"amd"}
    assert found(arch="arm") == {"arm"}
    assert found(arch="arm/v7") == {"arm"}
    assert found(os="windows") == {"win"}
    assert found(arch="s390x") == set()


def test_filters_apply_with_text(index: SearchIndex) -> None:
    index.apply(upserts(repo("web/amd", platforms=(AMD64,)), repo("web/arm", platforms=(ARM_V7,))), {0: 2})
    assert names(index.search(SearchRequest(q="web", arch="arm"))) == ["web/arm"]


def test_empty_query_lists_newest_push_first(index: SearchIndex) -> None:
    index.apply(
        upserts(
            repo("old", pushed="2023-01-01T00:00:00Z"),
            repo("never"),
            repo("new", pushed="2024-06-01T00:00:00+02:00"),
            repo("middle", pushed="2024-01-01T00:00:00Z"),
        ),
        {0: 4},
    )
    assert names(index.search(SearchRequest())) == ["new", "middle", "old", "never"]


def test_limit_and_offset_page_through_total(index: SearchIndex) -> None:
    docs = [repo(f"app{i}", pushed=f"2024-01-{i + 1:02d}T00:00:00Z") for i in range(5)]
    index.apply(upserts(*docs), {0: 5})

    page = index.search(SearchRequest(limit=2, offset=2))
    assert page.total == 5
    assert names(page) == ["app2", "app1"]
    assert index.search(SearchRequest(limit=2, offset=10)) == SearchPage(5, ())


def test_exact_name_ranks_first(index: SearchIndex) -> None:
    noisy = "nginx " * 20
    index.apply(
        upserts(
            repo("tools/nginx-exporter", title="nginx nginx exporter", description=noisy),
            repo("library/nginx", description="web server"),
            repo("nginx-proxy-manager", title="nginx", description=noisy),
        ),
        {0: 3},
    )
    assert names(index.search(SearchRequest(q="nginx")))[0] == "library/nginx"
    assert names(index.search(SearchRequest(q="library/nginx")))[0] == "library/nginx"
    assert names(index.search(SearchRequest(q="nginx-proxy-manager")))[0] == "nginx-proxy-manager"


def test_name_matches_outrank_description_matches(index: SearchIndex) -> None:
    index.apply(
        upserts(repo("redis-tools", description="tools"), repo("cache", description="a redis compatible tools cache")),
        {0: 2},
    )
    assert names(index.search(SearchRequest(q="redis tools"))) == ["redis-tools", "cache"]


@pytest.mark.parametrize("q", ["nginx", "proxy", "library", "NGINX", "library/nginx-proxy", "nginx-proxy", "ngi*"])
def test_repository_path_words_match(index: SearchIndex, q: str) -> None:
    index.apply(upserts(repo("library/nginx-proxy")), {0: 1})
    assert names(index.search(SearchRequest(q=q))) == ["library/nginx-proxy"]


def test_all_words_must_match(index: SearchIndex) -> None:
    index.apply(upserts(repo("nginx", description="web server"), repo("redis")), {0: 2})
    assert names(index.search(SearchRequest(q="nginx server"))) == ["nginx"]
    assert index.search(SearchRequest(q="nginx redis")).total == 0


def test_text_fields_are_stemmed(index: SearchIndex) -> None:
    index.apply(upserts(repo("app", title="Runs containers", description="Scheduling things")), {0: 1})
    assert names(index.search(SearchRequest(q="run container schedule"))) == ["app"]


def test_tag_words_labels_and_annotations_match(index: SearchIndex) -> None:
    doc = tag(
        "nginx",
        "1.25-alpine",
        labels={"maintainer": "Acme Corporation"},
        annotations={"org.opencontainers.image.source": "https://github.com/acme/widget"},
    )
    index.apply(upserts(doc), {0: 1})
    for q in ("alpine", "1.25", "acme", "widget", "nginx alpine"):
        assert index.search(SearchRequest(q=q, kind="tag")).documents == (doc,), q


def test_repository_document_matches_its_tags(index: SearchIndex) -> None:
    index.apply(upserts(repo("nginx", tags=("1.25-bookworm", "latest"))), {0: 1})
    assert names(index.search(SearchRequest(q="bookworm"))) == ["nginx"]


WEIRD_QUERIES = [
    '"',
    "'unbalanced",
    "name:nginx",
    ":::",
    "*",
    "**nginx**",
    "ng*nx",
    "nginx AND OR NOT",
    "(nginx",
    "nginx)",
    "[a TO z]",
    "{}",
    "~2 ^3 +nginx -redis",
    "\\",
    "ñandú 日本語 😀",
    "\x00\x01",
    "x" * 256,
    "a " * 128,
]


@pytest.mark.parametrize("q", WEIRD_QUERIES)
def test_odd_text_never_raises(index: SearchIndex, q: str) -> None:
    index.apply(upserts(repo("library/nginx", description="web server")), {0: 1})
    for kind in ("repository", "tag"):
        page = index.search(SearchRequest(q=q, kind=kind))
        assert page.total == len(page.documents)


def test_punctuation_only_text_selects_by_filters(index: SearchIndex) -> None:
    index.apply(upserts(repo("app")), {0: 1})
    assert names(index.search(SearchRequest(q='" * :'))) == ["app"]


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchIndex]:
    opened = SearchIndex.open(tmp_path_factory.mktemp("populated"))
    opened.apply(upserts(repo("library/nginx", title="Nginx"), tag("library/nginx", "latest")), {0: 2})
    yield opened
    opened.close()


@settings(max_examples=200, deadline=None)
@given(q=st.text(max_size=256))
def test_any_text_never_raises(populated: SearchIndex, q: str) -> None:
    page = populated.search(SearchRequest(q=q))
    assert page.total >= len(page.documents)


def test_repository_with_tags_newest_first(index: SearchIndex) -> None:
    nginx = repo("library/nginx", tags=("1.24", "1.25", "latest"))
    tags = [
        tag("library/nginx", "1.24", pushed="2023-01-01T00:00:00Z"),
        tag("library/nginx", "latest", pushed="2024-01-01T00:00:00Z"),
        tag("library/nginx", "1.25", pushed="2024-01-01T00:00:00Z"),
    ]
    elsewhere = RepositoryDocument(registry="other.example", name="library/nginx")
    index.apply(upserts(nginx, *tags, elsewhere, repo("library/nginx-extra"), tag("library/nginx-extra", "x")), {0: 7})

    found = index.repository("library/nginx", REGISTRY)
    assert found == (nginx, (tags[2], tags[1], tags[0]))
    assert index.repository("library/nginx", "other.example") == (elsewhere, ())
    assert index.repository("library/nginx") == (elsewhere, ())
    assert index.repository("library/missing") is None
    assert index.repository("library/nginx", "nowhere.example") is None


def test_concurrent_searches_during_applies(index: SearchIndex) -> None:
    errors: list[BaseException] = []
    stop = threading.Event()

    def search_until_stopped() -> None:
        try:
            while not stop.is_set():
                assert index.search(SearchRequest(q="app")).total <= 1
        except BaseException as error:  # the assertion below reports it
            errors.append(error)

    threads = [threading.Thread(target=search_until_stopped) for _ in range(2)]
    for thread in threads:
        thread.start()
    for offset in range(1, 9):
        index.apply(upserts(repo("app", pulls=offset)), {0: offset})
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []
    assert index.search(SearchRequest(q="app")).total == 1


def test_alternating_writers_replace_documents_they_did_not_write(tmp_path: Path) -> None:
    # Each writer's searcher may be older than the other's last commit: the
    # delete of the replaced document must still find it.
    first = SearchIndex.open(tmp_path / "index")
    second = SearchIndex.open(tmp_path / "index")
    for offset in range(1, 7):
        writer = first if offset % 2 else second
        writer.apply(upserts(repo("app", pulls=offset), tag("app", "latest", size=offset)), {0: 2 * offset})
    for reader in (first, second):
        reader._generation += 1  # as after a commit of its own: renew the searchers
        assert reader.search(SearchRequest()).documents == (repo("app", pulls=6),)
        assert reader.search(SearchRequest(kind="tag")).documents == (tag("app", "latest", size=6),)
    first.close()
    second.close()


def test_compact_merges_small_segments_and_keeps_every_document(index: SearchIndex, tmp_path: Path) -> None:
    for offset in range(1, 41):
        index.apply(upserts(repo(f"app{offset}"), tag(f"app{offset}", "latest")), {0: 2 * offset})
    index.apply([(repo("app1").doc_id, None)], {0: 81})
    before = {kind: index.search(SearchRequest(kind=kind, limit=100)) for kind in ("repository", "tag")}

    steps = 0
    while index.compact():
        steps += 1
        assert steps < 20
    assert steps >= 1
    for part in ("repositories", "tags"):
        assert len(whoosh_index.open_dir(str(tmp_path / "index" / part)).reader().leaf_readers()) == 1
    assert index.segments() == {"repository": 1, "tag": 1}
    assert {kind: index.search(SearchRequest(kind=kind, limit=100)) for kind in ("repository", "tag")} == before
    assert before["repository"].total == 39
    assert index.applied_positions() == {0: 81}
    assert not index.compact()


def test_compact_leaves_a_large_segment_alone_for_a_few_new_documents(
    index: SearchIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexer.merging, "COMPACT_SMALL_DOCS", 100)  # 200 documents count as large here
    index.apply(upserts(*(repo(f"app{n}") for n in range(200))), {0: 200})
    index.apply(upserts(repo("new1")), {0: 201})
    index.apply(upserts(repo("new2")), {0: 202})

    while index.compact():
        pass
    sizes = sorted(r.doc_count_all() for r, _ in whoosh_index.open_dir(str(tmp_path / "index" / "repositories")).reader().leaf_readers())
    assert sizes[-1] >= 200
    assert len(sizes) == 2
    assert index.search(SearchRequest(limit=100)).total == 202


def test_threads_share_one_searcher_per_kind(index: SearchIndex) -> None:
    # One searcher per thread multiplied the search process's memory by its HTTP threads.
    index.apply(upserts(repo("app"), tag("app", "1.0")), {0: 1})
    answers: list[int] = []

    def search() -> None:
        answers.append(index.search(SearchRequest(q="app")).total + index.search(SearchRequest(q="", kind="tag")).total)

    threads = [threading.Thread(target=search) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [2] * 6
    assert set(index._searchers) == {"repository", "tag"}


class _Segment:
    """What :func:`indexer.merging.compaction` reads of a Whoosh segment."""

    def __init__(self, documents: int, deleted: int = 0) -> None:
        self.documents, self.deleted = documents, deleted

    def doc_count_all(self) -> int:
        return self.documents

    def deleted_count(self) -> int:
        return self.deleted


def test_compaction_merges_similar_segments_past_a_tiny_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # Seen after a 1,000-repository benchmark: the 9-document segment was
    # allowed no partner, so none of the seven merged.
    segments = [_Segment(n) for n in (500, 501, 58, 40, 38, 61, 9)]
    assert len(indexer.merging.compaction(segments)) == 7  # small enough to merge whatever the sizes
    monkeypatch.setattr(indexer.merging, "COMPACT_SMALL_DOCS", 0)
    assert sorted(s.documents for s in indexer.merging.compaction(segments)) == [38, 40, 58, 61, 500, 501]


def test_compaction_rewrites_no_large_segment_for_a_few_documents() -> None:
    assert indexer.merging.compaction([_Segment(4000), _Segment(3)]) == []
    small = indexer.merging.COMPACT_SMALL_DOCS
    assert len(indexer.merging.compaction([_Segment(small - 1), _Segment(1)])) == 2  # cheap: merged anyway
    small = [_Segment(20), _Segment(20)]
    assert indexer.merging.compaction([_Segment(4000), *small]) == small


def test_compaction_purges_deleted_documents_when_nothing_merges() -> None:
    wasteful = _Segment(1000, deleted=400)
    assert indexer.merging.compaction([wasteful]) == [wasteful]
    assert indexer.merging.compaction([_Segment(1000, deleted=10)]) == []


def test_filters_stay_cached_however_many_segments_are_searched(index: SearchIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    # Segment field lengths once shared the filters' bounded cache: 29 segments
    # at 100,000 repositories cleared it at every query.
    monkeypatch.setattr(indexer.merging, "MAX_MERGE_DOCS", 1)  # every commit stays its own segment
    monkeypatch.setattr(indexer.merging, "MAX_SEGMENTS", 10**6)
    for n in range(indexer.index._CACHED_VALUES // 2 + 1):
        index.apply(upserts(repo(f"server-{n}", description="a web server", platforms=(AMD64,))), {0: n + 1})
    computed: list[str] = []
    real_filter_set = indexer.index.DocumentSet

    def counting(*args: Any, **kwargs: Any) -> Any:
        computed.append("filter")
        return real_filter_set(*args, **kwargs)

    monkeypatch.setattr(indexer.index, "DocumentSet", counting)
    for _ in range(3):
        assert index.search(SearchRequest(q="server", arch="amd64")).total == indexer.index._CACHED_VALUES // 2 + 1
    with index._using("repository") as entry:
        # name and text lengths of every segment: more than the filters' cache holds
        assert 2 * len(entry.searcher.reader().leaf_readers()) > indexer.index._CACHED_VALUES
    assert computed == ["filter"]


def test_a_searcher_opened_before_segments_are_merged_away_still_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The soak benchmark's 500s: the follower (another process) merged segments away and Whoosh
    # deleted their files at that commit, while the search process's searcher, opened before,
    # had not yet opened their stored fields and lengths. Retired files now outlive searchers.
    monkeypatch.setattr(indexer.index, "REFRESH_SECONDS", 3600.0)  # the reader keeps its searcher
    writer = SearchIndex.open(tmp_path / "index")
    writer.apply(upserts(*(repo(f"first-{n}", description="tool") for n in range(3))), {0: 1})
    reader = SearchIndex.open(tmp_path / "index")
    assert reader.segments()["repository"] == 1  # its searcher is open, its column files are not

    for batch in range(2, 40):
        writer.apply(upserts(*(repo(f"app{batch}-{n}", description="tool") for n in range(3))), {0: batch})
    while writer.compact():
        pass

    page = reader.search(SearchRequest(q="", limit=200))
    assert page.total == 3 and sorted(d.name for d in page.documents) == ["first-0", "first-1", "first-2"]
    assert reader.search(SearchRequest(q="tool", limit=200)).total == 3
    writer.close()
    reader.close()


def test_a_new_searcher_takes_over_the_values_of_segments_it_still_reads(index: SearchIndex) -> None:
    # Two segments, then a commit that rewrites one repository of the first (a pull count changed):
    # the next searcher reuses what was read from the first segment, and answers as if it had not.
    index.apply(upserts(repo("apps/alpha", platforms=(AMD64,), pulls=1), repo("apps/alps", platforms=(ARM_V7,))), {0: 1})
    index.apply(upserts(repo("apps/beta", platforms=(AMD64,)), repo("tools/alpine", platforms=(AMD64,))), {0: 2})
    request = SearchRequest(q="alp*")
    assert names(index.search(request)) == ["apps/alpha", "apps/alps", "tools/alpine"]
    assert index.facets(request)["arch"] == {"amd64": 2, "arm": 1, "arm/v7": 1}
    before = dict(index._searchers["repository"].per_segment)
    assert before  # name keys, lengths, facet values of both segments

    index.apply(upserts(repo("apps/alpha", platforms=(ARM_V7,), pulls=500)), {0: 3})
    page = index.search(request)
    assert page.total == 3 and page.documents[0] == repo("apps/alpha", platforms=(ARM_V7,), pulls=500)
    assert index.facets(request)["arch"] == {"arm": 2, "arm/v7": 2, "amd64": 1}
    after = index._searchers["repository"].per_segment
    assert all(after[key] is value for key, value in before.items())  # both segments are still read
    assert len({key[1] for key in after}) == 3  # and the new one's values are read from it

    while index.compact():  # merged into one: nothing is left to take over
        pass
    assert names(index.search(request)) == ["apps/alpha", "apps/alps", "tools/alpine"]
    segments = {key[1] for key in index._searchers["repository"].per_segment}
    assert len(segments) == 1 and not segments & {key[1] for key in after}
    assert index.search(SearchRequest(q="alp*", arch="amd64")).total == 1


def test_segments_stay_few_while_commits_keep_rewriting_older_documents(index: SearchIndex, tmp_path: Path) -> None:
    # Pull-count churn: every commit rewrites a few repositories, deleting their documents from older
    # segments. Segments of mostly deleted documents must still merge, or searches read dozens.
    index.apply(upserts(*(repo(f"app{n}") for n in range(200))), {0: 1})
    rng = random.Random(7)
    segments = []
    for offset in range(2, 302):
        index.apply(upserts(*(repo(f"app{rng.randrange(200)}", pulls=offset) for _ in range(4))), {0: offset})
        segments.append(len(whoosh_index.open_dir(str(tmp_path / "index" / "repositories")).reader().leaf_readers()))
    assert index.search(SearchRequest()).total == 200
    assert sum(segments) / len(segments) <= 8.5  # 7.4 here; 10.6 when deleted documents counted in full


def test_a_cached_prefix_expansion_still_drops_documents_deleted_after_it_was_read(index: SearchIndex) -> None:
    indexer.segment_cache.forget_segments()
    index.apply(upserts(*(repo(f"team/alpha-{n}", description=f"alpine alpaca alps tool {n}") for n in range(6))), {0: 1})
    assert index.search(SearchRequest(q="alp*")).total == 6
    cached = dict(indexer.prefixes._cache.items())
    assert any(expansion.terms for expansion in cached.values())

    index.apply([(repo("team/alpha-3").doc_id, None)], {0: 2})  # deletes from the segment read above
    page = index.search(SearchRequest(q="alp*", limit=10))
    assert page.total == 5 and "team/alpha-3" not in names(page)
    # the segment read above was not read again (the commit added one: its positions document)
    assert all(dict(indexer.prefixes._cache.items()).get(key) is expansion for key, expansion in cached.items())

    while index.compact():  # merged away: what was read from those segments goes with them
        pass
    assert index.search(SearchRequest(q="alp*")).total == 5
    kept = dict(indexer.prefixes._cache.items())
    assert not cached.keys() & kept.keys() and kept


def test_term_lookups_are_read_once_per_segment_and_kept_across_commits(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexer.segment_cache.forget_segments()
    reads: list[tuple[str, bytes]] = []
    read = W3TermsReader.term_info

    def counted(self: W3TermsReader, fieldname: str, tbytes: bytes) -> Any:
        reads.append((fieldname, tbytes))
        return read(self, fieldname, tbytes)

    monkeypatch.setattr(W3TermsReader, "term_info", counted)
    index.apply(upserts(*(repo(f"team/alpha-{n}", description=f"alpine tool {n}") for n in range(6))), {0: 1})
    assert index.search(SearchRequest(q="alpine")).total == 6
    assert index.search(SearchRequest(q="alpine zzqxjvw-nothing")).total == 0
    assert ("name", b"zzqxjvw") in reads  # the absent word is asked for too
    reads.clear()
    assert index.search(SearchRequest(q="alpine zzqxjvw-nothing")).total == 0
    assert index.search(SearchRequest(q="alpine")).total == 6
    assert reads == []  # present and absent terms alike
    kept = dict(indexer.terms._cache.items())

    index.apply(upserts(repo("team/alpine")), {0: 2})  # a new segment; the first one stays
    assert index.search(SearchRequest(q="alpine")).total == 7
    assert reads  # from the new segment only: what the first one answered is still kept
    after = dict(indexer.terms._cache.items())
    assert all(after.get(key) is info for key, info in kept.items() if key in after)
    assert {key[0] for key in kept} <= {key[0] for key in after}

    while index.compact():  # merged away: what was read from those segments goes with them
        pass
    assert index.search(SearchRequest(q="alpine", limit=10)).total == 7
    assert not {key[0] for key in kept} & {key[0] for key, _ in indexer.terms._cache.items()}


def test_decoded_documents_of_segments_still_read_are_taken_over_by_the_next_searcher(index: SearchIndex) -> None:
    index.apply(upserts(repo("apps/alpha", pulls=2), repo("apps/beta", pulls=1)), {0: 1})
    first = index.search(SearchRequest(q="apps")).documents
    index.apply(upserts(repo("tools/gamma")), {0: 2})  # a new segment and a new searcher; the first segment stays
    again = index.search(SearchRequest(q="apps")).documents
    assert [d.name for d in again] == ["apps/alpha", "apps/beta"]
    assert all(before is after for before, after in zip(first, again, strict=True))  # not decoded again

    index.apply(upserts(repo("apps/beta", pulls=9)), {0: 3})  # rewritten: its old copy is deleted, not shown
    changed = index.search(SearchRequest(q="apps")).documents
    assert [(d.name, d.pulls) for d in changed] == [("apps/beta", 9), ("apps/alpha", 2)]
    assert changed[1] is first[0]

    while index.compact():  # merged into a new segment: its documents are read from it
        pass
    merged = index.search(SearchRequest(q="apps")).documents
    assert merged == changed and not any(a is b for a, b in zip(merged, changed))


def test_posting_lists_are_decoded_once_per_segment_and_still_drop_later_deletions(index: SearchIndex) -> None:
    indexer.segment_cache.forget_segments()
    index.apply(upserts(*(repo(f"team/app-{n}", description=f"alpine tool {n}", pulls=n) for n in range(6))), {0: 1})
    first = index.search(SearchRequest(q="alpine"))
    kept = dict(indexer.postings._cache.items())
    assert first.total == 6 and kept  # "alpine" in the description, at least

    again = index.search(SearchRequest(q="alpine"))
    assert names(again) == names(first)
    assert dict(indexer.postings._cache.items()) == kept  # nothing decoded again
    assert all(dict(indexer.postings._cache.items())[key] is value for key, value in kept.items())

    index.apply([(repo("team/app-5").doc_id, None)], {0: 2})  # deleted from the segment read above
    after = index.search(SearchRequest(q="alpine"))
    assert after.total == 5 and names(after) == [n for n in names(first) if n != "team/app-5"]
    assert all(dict(indexer.postings._cache.items()).get(key) is value for key, value in kept.items())


def test_a_renewed_searcher_keeps_the_readers_of_unchanged_segments_and_sees_their_new_deletions(
    index: SearchIndex,
) -> None:
    def leaves() -> dict[str, Any]:
        reader = index._searchers["repository"].searcher.reader()
        return {str(leaf.segment().segment_id()): leaf for leaf, _ in reader.leaf_readers()}

    index.apply(upserts(*(repo(f"apps/alpha-{n}", description="alpine") for n in range(4))), {0: 1})
    assert index.search(SearchRequest(q="alpine")).total == 4
    first = leaves()

    index.apply(upserts(repo("apps/alpha-9", description="alpine")), {0: 2})  # a new segment
    assert index.search(SearchRequest(q="alpine")).total == 5
    second = leaves()
    assert first.keys() < second.keys()
    assert all(second[segment] is leaf for segment, leaf in first.items())  # kept, not reopened

    index.apply([(repo("apps/alpha-2").doc_id, None)], {0: 3})  # deleted from the first segment
    page = index.search(SearchRequest(q="alpine", limit=10))
    assert page.total == 4 and "apps/alpha-2" not in names(page)
    assert all(leaves()[segment] is leaf for segment, leaf in first.items())

    while index.compact():  # merged into one: the old readers are closed
        pass
    assert index.search(SearchRequest(q="alpine", limit=10)).total == 4
    assert not leaves().keys() & second.keys() and all(leaf.is_closed for leaf in second.values())


def test_a_table_of_contents_gone_while_renewing_falls_back_to_a_whole_new_searcher(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    index.apply(upserts(repo("apps/alpha")), {0: 1})
    ix = index._ix["repository"]
    previous = ix.searcher()
    read_toc = type(ix)._read_toc
    failures = [FileNotFoundError("replaced by a commit")]

    def flaky(self: Any) -> Any:
        if failures:
            raise failures.pop()
        return read_toc(self)

    monkeypatch.setattr(type(ix), "_read_toc", flaky)
    searcher = indexer.searchers.renewed_searcher(ix, previous)
    assert previous.is_closed and not failures
    assert [fields["id"] for fields in searcher.all_stored_fields() if fields["id"].startswith("repo:")] == [
        repo("apps/alpha").doc_id
    ]
    searcher.close()
