"""Visibility: the repositories a caller may see, and an index that computes nothing over the others."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.documents import Platform, RepositoryDocument, TagDocument
from indexer.index import SearchIndex, SearchRequest
from indexer.query_language import field_term
from indexer.visibility import Visibility, visible

REG = "registry.test:5000"
LAYER = "sha256:" + "1" * 64


def repo(name: str, arch: str, pulls: int = 0) -> RepositoryDocument:
    return RepositoryDocument(registry=REG, name=name, tags=("1",), platforms=(Platform("linux", arch),),
                              description=f"{name} server image", pushed="2026-11-01T00:00:00Z", pulls=pulls)


def tag(name: str) -> TagDocument:
    return TagDocument(registry=REG, repository=name, tag="1", digest="sha256:" + name.replace("/", "")[:4].ljust(64, "0"),
                       media_type="application/vnd.oci.image.manifest.v1+json", platforms=(Platform("linux", "amd64"),),
                       pushed="2026-11-01T00:00:00Z", layers=(LAYER,), platform_layers={"linux/amd64": (LAYER,)})


NAMES = ("public/web", "team-a/app", "team-a/tools/cli", "team-b/db", "secret/vault")


@pytest.fixture
def index(tmp_path: Path) -> Iterator[SearchIndex]:
    opened = SearchIndex.open(tmp_path / "index")
    docs = [repo(n, "arm64" if n.startswith("team-a") else "amd64", pulls=i) for i, n in enumerate(NAMES)]
    docs += [tag(n) for n in NAMES]
    opened.apply([(d.doc_id, d) for d in docs], {0: len(docs)})
    yield opened
    opened.close()


def test_globs_match_whole_names_across_slashes() -> None:
    seen = Visibility(("team-a/*", "public/web"))
    assert [n for n in NAMES if seen.allows(n)] == ["public/web", "team-a/app", "team-a/tools/cli"]
    assert not Visibility(()).allows("public/web")
    assert not Visibility(("team-a*",)).allows("Team-a/app"), "case sensitive, as the registry's names are"
    assert visible(None, "secret/vault") and not visible(Visibility(("public/*",)), "secret/vault")
    assert Visibility(("b", "a", "a")).key() == ("a", "b")


def test_search_counts_and_facets_cover_visible_repositories_only(index: SearchIndex) -> None:
    alice = Visibility(("public/*", "team-a/*"))
    page = index.search(SearchRequest(q="server", visible=alice, limit=10))
    assert sorted(d.name for d in page.documents if isinstance(d, RepositoryDocument)) == [
        "public/web", "team-a/app", "team-a/tools/cli"]
    assert page.total == 3
    assert index.search(SearchRequest(q="", visible=alice, limit=1)).total == 3
    assert index.search(SearchRequest(q="vault", visible=alice)).total == 0
    assert index.search(SearchRequest(q="server", arch="arm64", visible=Visibility(("public/*",)))).total == 0
    assert index.search(SearchRequest(q="server", sort="pulls", visible=alice)).total == 3
    facets = index.facets(SearchRequest(q="server", language=True, visible=alice))
    assert facets["arch"] == {"arm64": 2, "amd64": 1}
    assert set(facets["namespace"]) == {"public", "team-a", "team-a/tools"}
    assert index.search(SearchRequest(q="server", language=True, visible=alice,
                                      conditions=(field_term("namespace", "team-b"),))).total == 0


def test_lookups_answer_for_a_hidden_repository_as_for_a_missing_one(index: SearchIndex) -> None:
    public = Visibility(("public/*",))
    assert index.repository("secret/vault", visibility=public) is None
    assert index.repository("public/web", visibility=public) is not None
    assert index.tag("secret/vault", "1", visibility=public) is None
    assert [t.repository for t in index.tags_with_digest(field_term("digest", LAYER), public)] == ["public/web"]  # type: ignore[arg-type]
    web = index.tag("public/web", "1", visibility=public)
    assert web is not None and index.relatives(web, "derived", public) == []


def test_suggestions_and_spelling_come_from_visible_names(index: SearchIndex) -> None:
    public = Visibility(("public/*",))
    assert [s.text for s in index.suggest("", 10, public)] == ["public/web"]
    assert index.suggest("secret/vault:", 10, public) == []
    assert [s.text for s in index.suggest("secret/vault:", 10)] == ["secret/vault:1"]
    assert index.did_you_mean("vaulr") == "vault"
    assert index.did_you_mean("vaulr", public) is None
    assert index.did_you_mean("webb", public) == "web"


def test_exact_names_are_visible_as_written_and_keyed_apart_from_patterns(index: SearchIndex) -> None:
    granted = Visibility(names=frozenset({"team-a/app", "secret/vault"}))
    assert [n for n in NAMES if granted.allows(n)] == ["team-a/app", "secret/vault"]
    assert not Visibility(names=frozenset({"team-a/*"})).allows("team-a/app"), "a granted name is no glob"
    assert granted.key() == Visibility(names=frozenset({"secret/vault", "team-a/app"})).key()
    assert granted.key() != Visibility(names=frozenset({"team-a/app"})).key() != Visibility(("team-a/app",)).key()
    both = Visibility(("public/*",), frozenset({"team-b/db"}))
    assert index.search(SearchRequest(q="server", visible=both, limit=10)).total == 2
    assert index.search(SearchRequest(q="server", visible=granted, limit=10)).total == 2
    assert [s.text for s in index.suggest("", 10, granted)] == ["secret/vault", "team-a/app"]


def test_repository_names_lists_every_live_repository(index: SearchIndex) -> None:
    assert index.repository_names() == frozenset(NAMES)
    gone = repo("secret/vault", "amd64")
    index.apply([(gone.doc_id, None)], {0: 99})
    assert index.repository_names() == frozenset(NAMES) - {"secret/vault"}
