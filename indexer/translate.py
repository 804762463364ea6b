"""A parsed query (:mod:`indexer.query_language`) as Whoosh queries over the schema of :mod:`indexer.schema`.

Free words and phrases match the searchable fields as plain text does;
fields become terms of their own index fields. On the repository index,
``label:``, ``annotation:``, ``digest:`` and ``signed:`` match through the tag
index: a repository matches when one of its tags does (repository documents
hold no digests or signatures, and only their representative tag's labels). Only
``indexer/index.py`` uses this module.
"""

from __future__ import annotations

from collections.abc import Callable

from whoosh.query import And, Every, Not, NumericRange, Or, Prefix, Query, Term, Wildcard
from whoosh.query import Phrase as WhooshPhrase

from indexer.query_language import (
    All,
    AnyOf,
    Digest,
    Exact,
    Expression,
    KeyValue,
    Phrase,
    Pushed,
    Signed,
    TagPattern,
    Word,
)
from indexer.query_language import Not as QueryNot
from indexer.schema import META_ID, Kind, build_schema, label_entry, pushed_key
from indexer.ranking import TreeOr

_SCHEMA = build_schema("tag")


TagJoin = Callable[[Query], Query | None]
"""The repositories (as a repository-index query) having a tag that matches a tag-index query."""


def translate(expression: Expression, kind: Kind, word_query: Callable[[str, bool], Query | None],
              repositories_of: TagJoin) -> Query | None:
    """``expression`` as a query on the index of ``kind``; None when it can match nothing.

    ``word_query(text, prefix)`` is how free text matches (shared with plain
    searches); ``repositories_of`` joins tag-level conditions on the
    repository index. A query that could match without any positive term
    (``NOT x``) excludes the index's meta entry.
    """
    query = _Translator(kind, word_query, repositories_of).query(expression)
    if query is not None and kind == "repository" and _negates(expression):
        query = And([query, Not(Term("id", META_ID))])
    return query


class _Translator:
    def __init__(self, kind: Kind, word_query: Callable[[str, bool], Query | None], repositories_of: TagJoin) -> None:
        self._kind = kind
        self._word_query = word_query
        self._repositories_of = repositories_of

    def query(self, expression: Expression) -> Query | None:
        if isinstance(expression, All):
            return self._all(expression.parts)
        if isinstance(expression, AnyOf):
            found = [q for q in (self.query(part) for part in expression.parts) if q is not None]
            return TreeOr(found) if found else None
        if isinstance(expression, QueryNot):
            return self._all((expression,))
        if isinstance(expression, Word):
            return self._word_query(expression.text, expression.prefix)
        if isinstance(expression, Phrase):
            return _phrase(expression.text, self._word_query)
        if isinstance(expression, (KeyValue, Digest, Signed)):
            on_tags = tag_condition(expression)
            return self._repositories_of(on_tags) if self._kind == "repository" else on_tags
        return _field_condition(expression)

    def _all(self, parts: tuple[Expression, ...]) -> Query | None:
        """Every part: negated parts subtract from the others (from every document when alone)."""
        positive: list[Query] = []
        negative: list[Query] = []
        for part in parts:
            if isinstance(part, QueryNot):
                excluded = self.query(part.part)
                if excluded is not None:  # NOT of what matches nothing excludes nothing
                    negative.append(Not(excluded))
                continue
            included = self.query(part)
            if included is not None:
                positive.append(included)
            elif not isinstance(part, (Word, Phrase)):  # a word without letters or digits is skipped
                return None
        clauses = (positive or [Every()]) + negative
        return clauses[0] if len(clauses) == 1 else And(clauses)


def _phrase(text: str, word_query: Callable[[str, bool], Query | None]) -> Query | None:
    """The words of ``text`` next to each other in ``text``, or all of them in the name."""
    words = list(_SCHEMA["text"].process_text(text, mode="query"))
    in_text: Query | None
    if len(words) > 1:
        in_text = WhooshPhrase("text", words)
    elif words:
        in_text = Term("text", words[0])
    else:
        in_text = None
    name_words = list(_SCHEMA["name"].process_text(text, mode="query"))
    in_name = And([Term("name", w) for w in name_words]) if name_words else None
    found = [q for q in (in_text, in_name) if q is not None]
    return Or(found) if found else None


def tag_condition(expression: KeyValue | Digest | Signed) -> Query:
    """``label:``, ``annotation:``, ``digest:`` or ``signed:`` as a query on the tag index."""
    if isinstance(expression, Signed):
        return Term("signed", "true" if expression.value else "false")
    if isinstance(expression, KeyValue):
        return Term(expression.field, label_entry(expression.key, expression.value))
    if expression.algorithm is not None:
        return Term("digest", f"{expression.algorithm}:{expression.hex}")
    return Prefix("digest", expression.hex)


def _field_condition(expression: Expression) -> Query:
    if isinstance(expression, Exact):
        return Term(expression.field, expression.value)
    if isinstance(expression, TagPattern):
        pattern = expression.pattern.lower()
        return Wildcard("tag", pattern) if "*" in pattern else Term("tag", pattern)
    if isinstance(expression, Pushed):
        # As the index stores push times (microseconds since 1970, UTC); Whoosh's end is inclusive.
        start = None if expression.start is None else pushed_key(expression.start.isoformat())
        end = None if expression.end is None else pushed_key(expression.end.isoformat()) - 1
        return NumericRange("pushed_at", start, end)
    raise AssertionError(f"no translation for {expression!r}")


def _negates(expression: Expression) -> bool:
    if isinstance(expression, QueryNot):
        return True
    if isinstance(expression, (All, AnyOf)):
        return any(_negates(part) for part in expression.parts)
    return False



