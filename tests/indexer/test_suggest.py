"""Suggestions as you type: every match ranked by pulls, however many."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from indexer.documents import RepositoryDocument
from indexer.index import SearchIndex
from indexer.suggest import KEEP_RANKING_FROM, NameKeys

REG = "registry.test:5000"


def test_suggestions_rank_every_match_by_pulls_however_many() -> None:
    names = [f"lib/l{i:05d}" for i in range(20_000)]
    pulls = [0] * len(names)
    pulls[19_999], pulls[7] = 50, 9
    by_name = {name: docnum for docnum, name in enumerate(names)}
    rank = [0] * len(names)
    for place, docnum in enumerate(sorted(by_name.values(), key=lambda d: (-pulls[d], names[d]))):
        rank[docnum] = place
    keys = sorted((key, d) for d, name in enumerate(names) for key in (name, name.rsplit("/", 1)[1]))
    found = NameKeys(keys, names, pulls, by_name, rank).repositories("l", 3)
    assert [(s.text, s.pulls) for s in found] == [("lib/l19999", 50), ("lib/l00007", 9), ("lib/l00000", 0)]


def test_a_prefix_of_many_names_answers_from_its_kept_ranking_alike(tmp_path: Path) -> None:
    index = SearchIndex.open(tmp_path / "index")
    try:
        base = RepositoryDocument(registry=REG, name="x", tags=("1",), pushed="2026-11-01T00:00:00Z")
        docs = [replace(base, name=f"lib/l{i:04d}", pulls=i % 7) for i in range(KEEP_RANKING_FROM + 100)]
        index.apply([(d.doc_id, d) for d in docs], {0: 1})
        expected = [f"lib/l{i:04d}" for i in range(6, 60, 7)]  # pulls 6, first by name
        assert [s.text for s in index.suggest("l", 8)] == expected
        assert [s.text for s in index.suggest("l", 3)] == expected[:3], "the kept ranking, cut shorter"
        assert [s.text for s in index.suggest("lib/l000", 2)] == ["lib/l0006", "lib/l0005"]
    finally:
        index.close()
