"""Ranked search pages equal Whoosh's own full scoring: every match counted, the best N in its order."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import index as whoosh_index
from whoosh.matching import (
    AndMaybeMatcher, FilterMatcher, IntersectionMatcher, ListMatcher, UnionMatcher, WrappingMatcher,
)
from whoosh.query import And, AndMaybe, ConstantScoreQuery, Or, Prefix, Query, Term

import indexer.index
import indexer.ranking
import indexer.segment_scoring
from indexer.documents import Document, Platform, RepositoryDocument
from indexer.index import SearchIndex, SearchRequest, text_query
from indexer.prefixes import SegmentPrefix
from indexer.ranking import TreeOr
from indexer.segment_scoring import Scorers, compile_query

REGISTRY = "registry.example:5000"
WORDS = ("library", "client", "server", "python", "tools", "data", "image", "parser", "common", "files")
NAMESPACES = ("", "library/", "team-net/", "team-python/")
PLATFORMS = (Platform("linux", "amd64"), Platform("linux", "arm64"))
COMMON = "library"


def corpus(count: int, seed: int) -> list[RepositoryDocument]:
    """``count`` repositories whose names and descriptions share a small vocabulary, so words are common."""
    rng = random.Random(seed)
    documents = []
    for number in range(count):
        words = rng.choices(WORDS, k=rng.randint(1, 3))
        name = rng.choice(NAMESPACES) + "-".join(words) + f"-{number}"
        description = " ".join(rng.choices(WORDS, k=rng.randint(2, 12)))
        documents.append(
            RepositoryDocument(
                registry=REGISTRY, name=name, description=description, tags=("latest",),
                platforms=(rng.choice(PLATFORMS),), labels={"org.opencontainers.image.description": description},
            )
        )
    return documents


@contextmanager
def repository_searcher(path: Path) -> Iterator[Any]:
    """A Whoosh searcher of the repository index at ``path``, as Whoosh opens it."""
    ix = whoosh_index.open_dir(str(path / "repositories"))
    try:
        with ix.searcher() as searcher:
            yield searcher
    finally:
        ix.close()


def whoosh_ranking(index_dir: Path, q: str, arch: str | None = None) -> tuple[int, list[str]]:
    """Whoosh's answer, scoring every match (no limit): the total, and all names best first."""
    text = indexer.index.text_query(q)
    assert text is not None
    with repository_searcher(index_dir) as searcher:
        allowed = None if arch is None else {hit.docnum for hit in searcher.search(Term("arch", arch), limit=None)}
        hits = searcher.search(reference_query(text, q), limit=None, filter=allowed)
        return len(hits), [json.loads(hit["document"])["name"] for hit in hits]


def reference_query(text: Query, q: str) -> Query:
    """The ranked query with its prefix tier as a Whoosh query (the index adds it as a bonus instead)."""
    ranked = indexer.index._ranked(text, q)
    key = indexer.index._tier_key(q)
    if len(key) < indexer.index.MIN_PREFIX_TIER:
        return ranked
    prefix = Or([Prefix("name_last", key), Prefix("name_full", key)])
    return AndMaybe(ranked, ConstantScoreQuery(prefix, indexer.index.PREFIX_SCORE))


def page(index: SearchIndex, q: str, limit: int = 25, offset: int = 0, arch: str | None = None) -> tuple[int, list[str]]:
    found = index.search(SearchRequest(q=q, limit=limit, offset=offset, arch=arch))
    return found.total, [doc.name for doc in found.documents if isinstance(doc, RepositoryDocument)]


@pytest.fixture(scope="module")
def segmented(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SearchIndex, Path]]:
    """400 repositories written in several batches, some replaced and some deleted: several segments with deletions."""
    path = tmp_path_factory.mktemp("ranking") / "index"
    index = SearchIndex.open(path)
    documents = corpus(400, seed=7)
    for start in range(0, len(documents), 100):
        index.apply([(doc.doc_id, doc) for doc in documents[start : start + 100]], {0: start + 100})
    replaced = corpus(30, seed=8)
    changes: list[tuple[str, Document | None]] = [(old.doc_id, None) for old in documents[::17]]
    changes += [(doc.doc_id, doc) for doc in replaced]
    index.apply(changes, {0: 500})
    yield index, path
    index.close()


def test_common_word_counts_every_match_and_ranks_like_full_scoring(segmented: tuple[SearchIndex, Path]) -> None:
    index, path = segmented
    total, names = whoosh_ranking(path, COMMON)

    assert total > 100  # hundreds of matches: the path this pins
    assert page(index, COMMON) == (total, names[:25])
    assert page(index, COMMON, limit=10, offset=25) == (total, names[25:35])


def test_name_matches_outranking_text_matches_do_not_shrink_the_total(tmp_path: Path) -> None:
    # Whoosh's top-N collector prunes, from its count too, the text-only matches that cannot
    # reach the page once name matches spread over the index fill it; the total counts them.
    index = SearchIndex.open(tmp_path / "index")
    documents = []
    for n in range(300):
        documents.append(RepositoryDocument(registry=REGISTRY, name=f"tool{n}", description="a library"))
        if n % 6 == 0:  # name matches spread over the index, as namespaces are
            documents.append(RepositoryDocument(registry=REGISTRY, name=f"library/app{n}"))
    index.apply([(doc.doc_id, doc) for doc in documents], {0: 1})

    total, names = page(index, "library")

    assert total == len(documents) == 350
    assert len(names) == 25 and all(name.startswith("library/") for name in names)
    index.close()


@pytest.mark.parametrize("q", ["library", "library client", "server*", "pars*", "python-tools", "library/data", "files data"])
def test_pages_equal_full_scoring(segmented: tuple[SearchIndex, Path], q: str) -> None:
    index, path = segmented
    total, names = whoosh_ranking(path, q)

    assert page(index, q) == (total, names[:25])


def test_filtered_pages_equal_full_scoring(segmented: tuple[SearchIndex, Path]) -> None:
    index, path = segmented
    total, names = whoosh_ranking(path, COMMON, arch="arm64")

    assert 0 < total
    assert page(index, COMMON, arch="arm64") == (total, names[:25])


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(st.sampled_from(WORDS + ("lib*", "se*", "zzz", "team", "net")), min_size=1, max_size=3),
    limit=st.integers(1, 30),
)
def test_any_query_equals_full_scoring(segmented: tuple[SearchIndex, Path], words: list[str], limit: int) -> None:
    index, path = segmented
    q = " ".join(words)
    total, names = whoosh_ranking(path, q)

    assert page(index, q, limit=limit) == (total, names[:limit])


def prefix_scores(index_dir: Path, query: Query) -> dict[str, float]:
    """Whoosh's full search for ``query``: each matching repository's name and score."""
    with repository_searcher(index_dir) as searcher:
        return {json.loads(hit["document"])["name"]: hit.score for hit in searcher.search(query, limit=None)}


@pytest.mark.parametrize("field", ["name", "text"])
@pytest.mark.parametrize("text", ["l", "li", "lib", "libr", "se", "pars", "p", "fi", "zz", "team", "d"])
def test_segment_prefix_matches_and_scores_as_whoosh_prefix(
    segmented: tuple[SearchIndex, Path], field: str, text: str
) -> None:
    _, path = segmented
    assert prefix_scores(path, SegmentPrefix(field, text)) == prefix_scores(path, Prefix(field, text))


@pytest.mark.parametrize("text", ["l", "lib", "se", "zz"])
def test_segment_prefix_estimates_its_size_as_whoosh_prefix(segmented: tuple[SearchIndex, Path], text: str) -> None:
    _, path = segmented
    ix = whoosh_index.open_dir(str(path / "repositories"))
    try:
        with ix.reader() as reader:
            for leaf, _ in reader.leaf_readers():
                assert SegmentPrefix("text", text).estimate_size(leaf) == Prefix("text", text).estimate_size(leaf)
    finally:
        ix.close()


@pytest.mark.parametrize("q", ["library client", "python-tools", "library/data", "files data", "pars* common"])
def test_intersections_looking_up_the_narrow_sides_documents_score_the_same(
    segmented: tuple[SearchIndex, Path], q: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Force the wide side of every intersection to be read by bisection: the scores must not change.
    monkeypatch.setattr(indexer.segment_scoring, "BISECT_RATIO", 0)
    index, path = segmented
    index._generation += 1  # a fresh searcher: no matcher state from earlier tests
    total, best = whoosh_ranking(path, q)
    assert page(index, q, limit=40) == (total, best[:40])


@pytest.mark.parametrize("bisect_ratio", [0, 10**9], ids=["looking up each allowed document", "a pass over the list"])
@pytest.mark.parametrize("q", [COMMON, "library client", "python-tools", "se* data", "files"])
def test_filters_drop_documents_at_the_leaves_and_score_the_same(
    segmented: tuple[SearchIndex, Path], q: str, bisect_ratio: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An architecture filter reaches the leaves as each segment's allowed documents, read either
    # way a decoded list can be read: the page and the total stay Whoosh's.
    monkeypatch.setattr(indexer.segment_scoring, "BISECT_RATIO", bisect_ratio)
    index, path = segmented
    index._generation += 1  # a fresh searcher: no matcher state from earlier tests
    total, best = whoosh_ranking(path, q, arch="arm64")
    assert 0 < total < whoosh_ranking(path, q)[0]
    assert page(index, q, limit=40, arch="arm64") == (total, best[:40])


def whoosh_scores(query: Query, leaf: Any, searcher: Any) -> dict[int, float]:
    """Whoosh's own score of each match of ``query`` in one segment, one ``score()`` at a time."""
    matcher = query.matcher(leaf, searcher.context())
    scores = {}
    while matcher.is_active():
        scores[matcher.id()] = matcher.score()
        matcher.next()
    return scores


COMPILED = {
    "word": Term("text", "librari"),
    "boosted word": Term("text", "librari", boost=2.5),
    "absent word": Term("text", "zzz"),
    "words in one field": And([Term("name", "python"), Term("name", "tools"), Term("name", "zzz")]),
    "fields": TreeOr([Term("name", "data"), Term("text", "data"), Term("text", "pars")], boost=0.5),
    "ranked name": indexer.index._ranked(text_query("library-client"), "library-client"),
    "ranked words": indexer.index._ranked(text_query("data common files"), ""),
    "prefix of many terms": SegmentPrefix("name", "1"),
    "prefix of two terms": SegmentPrefix("text", "c", boost=1.5),
    "prefix of one term": SegmentPrefix("text", "pars"),
    "prefix of none": SegmentPrefix("text", "zz"),
    "ranked prefixes": indexer.index._ranked(text_query("se* data c*"), ""),
}


def compiled(query: Query, leaf: Any, searcher: Any) -> Any:
    """``query`` compiled for the segment of ``leaf`` (one of ``searcher``'s leaf searchers)."""
    reader = leaf.reader()
    lengths = partial(indexer.ranking._length_bytes, reader)
    return compile_query(query, leaf, str(reader.segment().segment_id()), lengths, Scorers(searcher))


@pytest.mark.parametrize("name", COMPILED)
def test_compiled_queries_score_each_match_as_whoosh_does(segmented: tuple[SearchIndex, Path], name: str) -> None:
    # Straight from the posting lists (indexer.segment_scoring), to the last bit, deleted documents
    # left out; and the plain text queries all take that path.
    with repository_searcher(segmented[1]) as searcher:
        leaves = searcher.leaf_searchers()
        assert any(leaf.reader().has_deletions() for leaf, _ in leaves)
        for leaf, _ in leaves:
            node = compiled(COMPILED[name], leaf, searcher)
            assert node is not None
            assert node.scores(None) == whoosh_scores(COMPILED[name], leaf, searcher)


def test_queries_it_does_not_compile_are_left_to_whoosh(segmented: tuple[SearchIndex, Path]) -> None:
    with repository_searcher(segmented[1]) as searcher:
        leaf, _ = searcher.leaf_searchers()[0]
        for query in (Prefix("text", "c"), Or([Term("text", "data"), Term("text", "librari"), Term("name", "tools")])):
            assert compiled(query, leaf, searcher) is None


def matcher_shape(matcher: Any) -> tuple[Any, ...]:
    """The tree Whoosh built: each matcher's class, with its children, boost or term."""
    name = type(matcher).__name__
    if isinstance(matcher, (UnionMatcher, IntersectionMatcher, AndMaybeMatcher)):
        return (name, matcher_shape(matcher.a), matcher_shape(matcher.b))
    if type(matcher) is WrappingMatcher:
        return (name, matcher.boost, matcher_shape(matcher.child))
    if type(matcher) is FilterMatcher:
        return (name, matcher.child.term())
    if type(matcher) is ListMatcher and matcher._all_weights:
        return (name, tuple(matcher._ids))
    return (name, matcher.term()) if matcher.is_active() or matcher.term() else (name,)


def node_shape(node: Any) -> tuple[Any, ...]:
    """The same of a compiled node (indexer.segment_scoring)."""
    name = node.matcher_class.__name__
    for pair in ("a", "required"):
        if hasattr(node, pair):
            second = node.b if pair == "a" else node.optional
            return (name, node_shape(getattr(node, pair)), node_shape(second))
    if hasattr(node, "boost"):
        return (name, node.boost, node_shape(node.child))
    if hasattr(node, "ids"):
        return (name, tuple(sorted(node.scores(None))))
    if hasattr(node, "score"):
        return (name, tuple(sorted(node.child.scores(None))))
    if hasattr(node, "_fieldname"):
        return (name, (node._fieldname, node._tbytes))
    return (name,)


@pytest.mark.parametrize("name", COMPILED)
def test_compiled_queries_pair_their_parts_as_whoosh_does(segmented: tuple[SearchIndex, Path], name: str) -> None:
    # The same trees (a float sum depends on how it is grouped), ties in Whoosh's size estimates
    # broken as Whoosh breaks them: by each matcher's class.
    with repository_searcher(segmented[1]) as searcher:
        for leaf, _ in searcher.leaf_searchers():
            node = compiled(COMPILED[name], leaf, searcher)
            assert node_shape(node) == matcher_shape(COMPILED[name].matcher(leaf, searcher.context()))
