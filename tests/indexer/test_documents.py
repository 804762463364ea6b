"""Documents as dicts and JSON: the same as ``dataclasses.asdict`` gives, and back again."""

from __future__ import annotations

import json
from dataclasses import asdict

from hypothesis import given
from hypothesis import strategies as st

from indexer.documents import (
    Document,
    Platform,
    RepositoryDocument,
    TagDocument,
    document_from_json,
    document_to_dict,
    document_to_json,
)

words = st.text(min_size=1, max_size=12)
maybe_words = st.none() | words
names = st.tuples(words)
platforms = st.lists(st.builds(Platform, words, words, st.just("") | words), max_size=3).map(tuple)
labels = st.dictionaries(words, st.text(max_size=20), max_size=4)
counts = st.integers(min_value=0, max_value=10**9)

tag_documents = st.builds(
    TagDocument, registry=words, repository=words, tag=words, digest=words, media_type=words,
    platforms=platforms, size=counts, created=maybe_words, pushed=maybe_words, labels=labels, annotations=labels,
    title=maybe_words, description=maybe_words, layers=st.lists(words, max_size=3).map(tuple),
    configs=st.lists(words, max_size=2).map(tuple), children=st.lists(words, max_size=2).map(tuple),
    platform_layers=st.dictionaries(words, st.lists(words, max_size=3).map(tuple), max_size=2), signed=st.booleans(),
)
repository_documents = st.builds(
    RepositoryDocument, registry=words, name=words, tags=st.lists(words, max_size=4).map(tuple), platforms=platforms,
    title=maybe_words, description=maybe_words, labels=labels, pushed=maybe_words, size=counts, pulls=counts,
    pulls_7d=counts, pulls_30d=counts, tag_pulls=st.dictionaries(words, counts, max_size=3),
)
documents = tag_documents | repository_documents


def reference_dict(doc: Document) -> dict[str, object]:
    """What ``document_to_dict`` gave when it was written with ``asdict``."""
    data = asdict(doc)
    data["kind"] = doc.kind
    data["platforms"] = [asdict(p) for p in doc.platforms]
    return data


@given(documents)
def test_the_dict_is_what_asdict_gives(doc: Document) -> None:
    assert document_to_dict(doc) == reference_dict(doc)
    assert json.dumps(document_to_dict(doc), sort_keys=True) == json.dumps(reference_dict(doc), sort_keys=True)


@given(documents)
def test_json_reads_back_as_the_same_document(doc: Document) -> None:
    assert document_from_json(document_to_json(doc)) == doc


def test_changing_the_dict_leaves_the_document_alone() -> None:
    doc = TagDocument("r", "app", "v1", "sha256:1", "m", labels={"a": "1"}, platform_layers={"linux/amd64": ("l",)})
    data = document_to_dict(doc)
    data["labels"]["a"] = "2"
    data["platform_layers"]["linux/arm64"] = ()
    assert doc.labels == {"a": "1"} and doc.platform_layers == {"linux/amd64": ("l",)}
