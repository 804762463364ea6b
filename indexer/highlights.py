"""The fragments of a title or description where a query's words are, the words in ``<em>``.

HTML: the text is escaped and each matched word wrapped in ``<em>``. The
words are the query's terms in the stemmed text field (a prefix expanded to
the terms it matched), found with Whoosh's highlighter: the text is analysed
as it was indexed, so "proxies" in a description matches the query "proxy".
Only ``indexer/index.py`` uses this module.
"""

from __future__ import annotations

from typing import Any

from whoosh.highlight import (
    FIRST,
    BasicFragmentScorer,
    ContextFragmenter,
    HtmlFormatter,
    WholeFragmenter,
    get_text,
    set_matched_filter,
    top_fragments,
)
from whoosh.query import MultiTerm

MAX_FRAGMENTS = 3
FRAGMENT_CHARS = 160
SURROUNDING_CHARS = 40
HIGHLIGHTED = ("title", "description")


class _Emphasis(HtmlFormatter):
    """Whoosh's HTML formatter with a bare ``<em>``: no CSS classes for an API to explain."""

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        return f"<em>{self._text(get_text(text, token, replace))}</em>"


def fragments(text: str, terms: frozenset[str], analyzer: Any) -> list[str]:
    """The best fragments of ``text`` holding ``terms`` (as ``analyzer`` reads them), in text order."""
    if not text or not terms:
        return []
    tokens = set_matched_filter(analyzer(text, chars=True, mode="query", removestops=False), terms)
    # A short text is its own fragment: a cut one would lose its end (and half an escaped tag).
    fragmenter = (WholeFragmenter() if len(text) <= FRAGMENT_CHARS
                  else ContextFragmenter(maxchars=FRAGMENT_CHARS, surround=SURROUNDING_CHARS))
    found = top_fragments(fragmenter.fragment_tokens(text, tokens), MAX_FRAGMENTS, BasicFragmentScorer(), FIRST, 1)
    formatter = _Emphasis()
    return [formatter.format_fragment(fragment) for fragment in found]


def text_terms(query: Any, reader: Any) -> frozenset[str]:
    """The text-field terms of ``query`` present in the index, prefixes expanded.

    Not ``Query.existing_terms``: in whoosh-reloaded 2.7.5 its loop variable
    overwrites its ``fieldname`` argument, so after the first term it skips
    every leaf of another field.
    """
    found: set[str] = set()
    for leaf in query.leaves():
        if leaf.field() != "text":
            continue
        expanded = isinstance(leaf, MultiTerm)  # its terms come from the index: no need to look them up
        for _, text in leaf.expanded_terms(reader):
            word = text.decode("utf-8") if isinstance(text, bytes) else text
            if expanded or ("text", word) in reader:
                found.add(word)
    return frozenset(found)


def highlights(document: Any, terms: frozenset[str], analyzer: Any) -> dict[str, list[str]]:
    """``{"title": [...], "description": [...]}`` for ``document``, the fields with a match only."""
    found = {name: fragments(getattr(document, name) or "", terms, analyzer) for name in HIGHLIGHTED}
    return {name: parts for name, parts in found.items() if parts}
