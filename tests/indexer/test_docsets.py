"""A filter's document set: membership by index number, shares by segment."""

from indexer.docsets import DocumentSet


def test_segment_shares_are_in_segment_numbers_and_partition_the_set() -> None:
    documents = DocumentSet([0, 3, 4, 9, 10, 15])
    segments = [(0, 4), (4, 6), (10, 10)]  # (offset, count): index documents 0-3, 4-9, 10-19

    shares = [documents.segment(offset, count) for offset, count in segments]

    assert shares == [frozenset({0, 3}), frozenset({0, 5}), frozenset({0, 5})]
    assert sorted(o + d for (o, _), share in zip(segments, shares) for d in share) == sorted(documents)


def test_membership_length_and_intersection() -> None:
    documents = DocumentSet(range(10)) & DocumentSet([5, 8, 12])

    assert 5 in documents and 12 not in documents
    assert len(documents) == 2 and not DocumentSet()
    assert documents.segment(0, 100) is documents.segment(0, 100)  # computed once
