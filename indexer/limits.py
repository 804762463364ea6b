"""How much one query may ask of the index: wildcard expansions and time.

The query parser already bounds a query's length and its number of terms
(:data:`indexer.query_language.MAX_QUERY_LENGTH`, ``MAX_TERMS``). What it
cannot see is what a short query costs once it meets the index: ``a*`` may
stand for thousands of terms, and a common word under many filters may score
most of the index. :func:`check_expansions` refuses a wildcard that expands
to more than :data:`MAX_EXPANSIONS` terms before anything is scored, and a
time budget (:func:`query_budget`, set per HTTP request by the search API)
stops a query that runs past it at the next :func:`check_deadline`, a few
hundred postings apart. Either raises :class:`QueryLimitError`, which the API
answers with a 400 naming the limit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from itertools import islice
from typing import Any

from whoosh.query import MultiTerm, Query

# A wildcard or prefix may stand for this many distinct terms of one field. Over 10,000 Debian
# package names (the benchmarks' corpus) "lib*" expands to ~2,200 name terms and is answered in
# ~125 ms; counting costs ~6 us a term. Prefixes are read as one list whatever their size (see
# indexer.prefixes.SegmentPrefix), but a tag wildcard builds a Whoosh matcher per term.
MAX_EXPANSIONS = 10_000
DEFAULT_QUERY_BUDGET_S = 5.0

_deadline: ContextVar[tuple[float, float] | None] = ContextVar("regsearch_query_deadline", default=None)


class QueryLimitError(ValueError):
    """A query went past one of its limits; ``limit`` names which ("expansions", "time")."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.message = message


def check_expansions(query: Query, reader: Any) -> None:
    """Raise :class:`QueryLimitError` when a wildcard or prefix in ``query`` expands to more than
    :data:`MAX_EXPANSIONS` terms in ``reader``'s index (counting stops at the first one past it)."""
    for leaf in query.leaves():
        if not isinstance(leaf, MultiTerm):
            continue
        terms = sum(1 for _ in islice(leaf.expanded_terms(reader), MAX_EXPANSIONS + 1))
        if terms > MAX_EXPANSIONS:
            text = str(getattr(leaf, "text", ""))
            shown = text if "*" in text or "?" in text else text + "*"
            raise QueryLimitError(
                "expansions",
                f"'{shown}' matches more than {MAX_EXPANSIONS} different terms in {leaf.field()}; "
                "give more characters before the wildcard",
            )


@contextmanager
def query_budget(seconds: float | None) -> Iterator[None]:
    """Queries run inside may take ``seconds`` of wall time in all (None: no limit)."""
    token = start_budget(seconds)
    try:
        yield
    finally:
        end_budget(token)


def start_budget(seconds: float | None) -> Token[tuple[float, float] | None]:
    """Start a budget of ``seconds`` for this context (a request); :func:`end_budget` ends it."""
    return _deadline.set(None if seconds is None else (time.monotonic() + seconds, seconds))


def end_budget(token: Token[tuple[float, float] | None]) -> None:
    _deadline.reset(token)


def check_deadline() -> None:
    """Raise :class:`QueryLimitError` when the current query's time budget is spent."""
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline[0]:
        raise QueryLimitError(
            "time", f"the query took longer than its time budget of {deadline[1]:g} s; make it narrower"
        )
