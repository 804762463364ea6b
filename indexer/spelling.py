"""Did you mean: a query's unknown words replaced by the nearest repository-name words.

A word is unknown when no repository name holds it and no description holds
its stem. Its replacement is the name word within two edits (Damerau-
Levenshtein, same first letter) held by the most repositories, fewest edits
first: Whoosh's term-index walk (:meth:`terms_within`), segment by segment.
Names are the vocabulary because the text field holds stems, which are not
words to suggest. Only ``indexer/index.py`` uses this module.
"""

from __future__ import annotations

import re
from typing import Any

from whoosh.support.levenshtein import distance

MAX_EDITS = 2
# Tokens of the query language left as they are: fields, quotes, groups, prefixes, operators.
_NOT_A_WORD = re.compile(r'[:"()*]|^(AND|OR|NOT)$')


def corrected(q: str, reader: Any, schema: Any) -> str | None:
    """``q`` with each unknown word replaced by its nearest known one; None when nothing changes."""
    tokens = q.split()
    fixed = [_corrected_token(token, reader, schema) for token in tokens]
    return " ".join(fixed) if fixed != tokens else None


def _corrected_token(token: str, reader: Any, schema: Any) -> str:
    if _NOT_A_WORD.search(token):
        return token
    words = list(schema["name"].process_text(token, mode="query"))
    if len(words) != 1 or _known(words[0], reader, schema):
        return token
    return _nearest(words[0], reader) or token


def _known(word: str, reader: Any, schema: Any) -> bool:
    stems = list(schema["text"].process_text(word, mode="query"))
    return bool(reader.doc_frequency("name", word)) or any(reader.doc_frequency("text", s) for s in stems)


def _nearest(word: str, reader: Any) -> str | None:
    candidates: set[str] = set()
    for leaf, _ in reader.leaf_readers():
        candidates.update(leaf.terms_within("name", word, MAX_EDITS, prefix=1))
    candidates.discard(word)
    if not candidates:
        return None
    return min(candidates, key=lambda c: (distance(c, word), -reader.doc_frequency("name", c), c))
