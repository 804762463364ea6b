"""RepositoryKeys: repositories by (registry, name), the repository side of tag-level conditions."""

from __future__ import annotations

from pathlib import Path

from indexer.documents import RepositoryDocument
from indexer.index import SearchIndex
from indexer.joins import RepositoryKeys, segment_keys

REG = "registry.test:5000"


def repo(name: str, registry: str = REG) -> RepositoryDocument:
    return RepositoryDocument(registry=registry, name=name, tags=("1",), pushed="2026-11-01T00:00:00Z")


def test_keys_match_what_id_terms_match_across_segments_and_deletions(tmp_path: Path) -> None:
    index = SearchIndex.open(tmp_path / "index")
    try:
        first = [repo(f"team/app-{i}") for i in range(30)] + [repo("team/app-1", "mirror:5000")]
        index.apply([(d.doc_id, d) for d in first], {0: 1})
        index.apply([(repo("team/app-2").doc_id, None), (repo("team/app-3").doc_id, repo("team/app-3"))], {0: 2})
        keys = [(REG, "team/app-1"), (REG, "team/app-2"), (REG, "team/app-3"), ("mirror:5000", "team/app-1"),
                (REG, "team/missing")]
        with index._using("repository") as entry:  # noqa: SLF001 - the matcher runs under this lock
            searcher = entry.searcher
            query = RepositoryKeys(keys, lambda reader: segment_keys(reader))
            assert len(searcher.reader().leaf_readers()) == 2, "a deletion and a re-add in a second segment"
            assert sorted(searcher.docs_for_query(query)) == sorted(searcher.docs_for_query(query.as_terms()))
            assert len(list(searcher.docs_for_query(query))) == 3
    finally:
        index.close()
