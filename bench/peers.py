"""The three alternatives Registry Search is measured against, over the same data.

Each is what a user without Registry Search would build, kept simple and
correct rather than made slow on purpose:

- :class:`CatalogWalk` walks the registry's ``/v2/_catalog`` on every query
  and matches substrings of names (what podman and registry UIs do);
- :class:`SqlLike` keeps name, title, description and labels in one SQLite
  table and runs ``LIKE '%chunk%'`` (what the original Python registry's
  search backend did);
- :class:`SqlFts5` keeps the same columns in an SQLite FTS5 table.

Every peer answers with the same semantics as Registry Search where the
technique allows: the query is split on white space into chunks, every
chunk must match (AND across chunks, OR across fields), ``total`` counts
every match and ``names`` holds the best ``limit``. A query equal to a whole
repository name or to its last path segment ranks that repository first.
Each class states how it treats a trailing ``*`` and what "best" means.
The SQL peers are built with :meth:`Peer.build` from the repository
documents the indexer produced; use each from the thread that built it.

A query may also name an architecture (:class:`BenchQuery` ``arch``): then
only repositories with a platform of that architecture match, as Registry
Search's ``arch`` filter has it (the architecture, or ``architecture/variant``,
compared exactly, case-insensitively), and ``total`` counts only them. The
catalog walk cannot know architectures (the catalog holds names only) and
raises :class:`Unsupported` for such a query; :func:`measure_peer` skips
what a peer refuses and says so in its figures.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from bench.stats import summary
from indexer.documents import Platform, RepositoryDocument

REQUEST_TIMEOUT_S = 30
CATALOG_PAGE = 1000
CATALOG_MAX_PAGES = 10_000
# The weight of the name column in bm25(): Registry Search boosts name matches 3x.
FTS5_NAME_WEIGHT = 3.0
FTS5_TOKENIZER = "porter unicode61"
_COLUMNS = ("name", "title", "description", "labels")
# Letters and digits, as unicode61 splits text into tokens.
_TOKEN = re.compile(r"[^\W_]+")
_LIKE_ESCAPE = "\\"
# True for an exact name, with the parameters of exact_parameters().
_EXACT = "(name = :key OR name LIKE :leaf ESCAPE '\\')"
# True for a repository with a platform keyword equal to :arch (SqlFts5): one primary-key
# lookup per match. Measured at 50,000 repositories: "rowid IN (SELECT ...)" made FTS5 run
# the MATCH once per listed repository (100x slower), and "+rowid IN" built the whole list
# per query (10 ms even when one repository matched the text).
_ARCH_ROW = "EXISTS (SELECT 1 FROM architectures WHERE arch = :arch AND repository = repositories.rowid)"
# True for a row whose space-padded ``arches`` holds the keyword in :arch (SqlLike).
_ARCH_WORD = "arches LIKE :arch ESCAPE '\\'"
RATE_DIGITS = 2


@dataclass(frozen=True)
class BenchQuery:
    """A benchmark query: free text, optionally filtered by architecture, and the category it reports under."""

    category: str
    text: str
    arch: str | None = None

    @property
    def label(self) -> str:
        """How figures name this query: its text, plus ``[arch=…]`` when filtered."""
        return self.text if self.arch is None else f"{self.text} [arch={self.arch}]"


@dataclass(frozen=True)
class PeerAnswer:
    """Every match counted (``total``) and the best matches' repository names, best first."""

    total: int
    names: tuple[str, ...]


class Unsupported(Exception):
    """This peer cannot answer this kind of query at all (e.g. filter by architecture).

    Not a failure: the technique lacks the data. Report the query as not
    measurable for the peer (``n/a``) rather than time a wrong answer.
    """


class Peer(Protocol):
    """A search alternative: built once from the data, then queried."""

    name: str

    def build(self, documents: Iterable[RepositoryDocument]) -> None:
        """Make ``documents`` (and only them) searchable, replacing what was built before."""

    def search(self, q: str, limit: int, arch: str | None = None) -> PeerAnswer:
        """The matches of ``q`` among repositories with architecture ``arch`` (any when None or empty):
        all counted, the best ``limit`` named. ValueError when ``limit`` < 1; :class:`Unsupported`
        when the peer cannot answer such a query at all."""

    def close(self) -> None:
        """Release what the peer holds (connections, sessions)."""


@dataclass(frozen=True)
class Timings:
    """What :func:`time_peer` measured: seconds per search of each answered query (first-seen order),
    the ``total`` of each one's last answer, the queries refused, and the whole timed loop's seconds."""

    peer: str
    limit: int
    seconds: dict[BenchQuery, list[float]]
    totals: dict[BenchQuery, int]
    refused: tuple[BenchQuery, ...]
    loop_s: float

    def samples(self, answered: Iterable[BenchQuery] | None = None) -> list[float]:
        """Every search's seconds, or only those of the ``answered`` queries."""
        wanted = self.seconds.keys() if answered is None else set(answered)
        return [s for query, values in self.seconds.items() if query in wanted for s in values]


def time_peer(peer: Peer, queries: Sequence[BenchQuery], limit: int, rounds: int) -> Timings:
    """``peer.search`` over ``queries``, ``rounds`` times each, in order, sequentially in this thread.

    A query the peer refuses (:class:`Unsupported`) is skipped from then on;
    a refusal is neither timed nor counted as a search.
    """
    seconds: dict[BenchQuery, list[float]] = {}
    totals: dict[BenchQuery, int] = {}
    refused: dict[BenchQuery, None] = {}
    loop_began = time.perf_counter()
    for _ in range(rounds):
        for query in queries:
            if query in refused:
                continue
            try:
                elapsed, totals[query] = _timed_search(peer, query, limit)
            except Unsupported:
                refused[query] = None
                continue
            seconds.setdefault(query, []).append(elapsed)
    return Timings(peer.name, limit, seconds, totals, tuple(refused), time.perf_counter() - loop_began)


def _timed_search(peer: Peer, query: BenchQuery, limit: int) -> tuple[float, int]:
    began = time.perf_counter()
    answer = peer.search(query.text, limit, arch=query.arch)
    return time.perf_counter() - began, answer.total


def measure_peer(peer: Peer, queries: Sequence[BenchQuery], limit: int, rounds: int) -> dict[str, Any]:
    """Latency in ms and requests per second of ``peer.search`` over ``queries``, ``rounds`` times each.

    Sequential and in this process, so the figures hold the search alone:
    no HTTP, except the catalog walk's own requests to the registry. See
    :func:`peer_figures` for the result.
    """
    return peer_figures(time_peer(peer, queries, limit, rounds))


def peer_figures(timings: Timings) -> dict[str, Any]:
    """``peer``, ``limit``, ``latency_ms`` (a :func:`summary`), ``by_category_ms`` (category → summary),
    ``requests_per_s`` (searches / the timed loop's seconds; None without any), ``by_category_requests_per_s``
    (category → searches / their summed seconds), ``unsupported`` (category → queries refused; a category
    refused whole is absent from the ``by_category`` figures), ``totals`` (query label → total, None if refused).
    """
    by_category: dict[str, list[float]] = {}
    for query, values in timings.seconds.items():
        by_category.setdefault(query.category, []).extend(values)
    searches = len(timings.samples())
    return {
        "peer": timings.peer,
        "limit": timings.limit,
        "latency_ms": summary(timings.samples(), 1000),
        "by_category_ms": {category: summary(values, 1000) for category, values in by_category.items()},
        "requests_per_s": round(searches / timings.loop_s, RATE_DIGITS) if searches else None,
        "by_category_requests_per_s": {c: _rate(values) for c, values in by_category.items()},
        "unsupported": dict(Counter(query.category for query in timings.refused)),
        "totals": {q.label: timings.totals.get(q) for q in [*timings.seconds, *timings.refused]},
    }


def _rate(seconds: list[float]) -> float:
    return round(len(seconds) / sum(seconds), RATE_DIGITS)


def check_limit(limit: int) -> None:
    """Raise ``ValueError`` unless ``limit`` is at least 1, as every peer requires."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")


def chunks(q: str) -> list[str]:
    """The lower-case chunks of ``q`` with a trailing ``*`` removed; empty ones dropped."""
    stripped = (chunk.rstrip("*") for chunk in q.lower().split())
    return [chunk for chunk in stripped if chunk]


def filter_arch(arch: str | None) -> str | None:
    """The architecture a filter compares, lower case as the index keeps it; None (no filter) for None or ""."""
    return arch.lower() if arch else None


def platform_keywords(platforms: Iterable[Platform]) -> list[str]:
    """What an architecture filter can equal for these platforms, sorted: each architecture, and
    ``architecture/variant`` for a variant, lower case and cut on white space as the index keeps them."""
    words = {p.architecture for p in platforms if p.architecture}
    words |= {f"{p.architecture}/{p.variant}" for p in platforms if p.architecture and p.variant}
    return sorted(set(" ".join(words).lower().split()))


def exact_key(q: str) -> str | None:
    """What a repository name (or its last path segment) must equal to rank first; None for several words."""
    key = q.strip().rstrip("*").lower()
    return key if key and not any(ch.isspace() for ch in key) else None


def is_exact(name: str, key: str | None) -> bool:
    """Whether ``name`` or its last path segment equals ``key``."""
    return key is not None and (name == key or name.rsplit("/", 1)[-1] == key)


class CatalogWalk:
    """Walk ``/v2/_catalog`` in pages of ``page`` on every query; match substrings of names.

    Every chunk of the query must be a substring of the name (AND); a
    trailing ``*`` is dropped, since a substring already covers every word
    that starts with it. The ranking is a simple, fair one for names alone:
    an exact name (or last path segment) first, then shorter names, then
    alphabetical. :meth:`build` takes nothing: the registry holds the data.
    """

    name = "catalog walk"

    def __init__(self, registry_url: str, page: int = CATALOG_PAGE) -> None:
        self.registry_url = registry_url.rstrip("/")
        self.page = page
        self.pages_walked = 0
        """Catalog pages the last search fetched."""
        self._session = requests.Session()

    def build(self, documents: Iterable[RepositoryDocument]) -> None:
        """Nothing to build: every search reads the registry's catalog."""

    def search(self, q: str, limit: int, arch: str | None = None) -> PeerAnswer:
        """Names containing every chunk of ``q``, from a full catalog walk; :class:`Unsupported` with ``arch``."""
        check_limit(limit)
        if filter_arch(arch) is not None:
            raise Unsupported(
                f"the {self.name} cannot filter by architecture: the catalog lists names only, "
                "and reading every manifest per query is not a search"
            )
        needles, key = chunks(q), exact_key(q)
        found = [name for name in self.catalog() if all(needle in name for needle in needles)]
        found.sort(key=lambda name: (not is_exact(name, key), len(name), name))
        return PeerAnswer(len(found), tuple(found[:limit]))

    def catalog(self) -> Iterator[str]:
        """Every repository name, page by page, following the ``Link`` header; counts ``pages_walked``."""
        self.pages_walked = 0
        url: str | None = f"{self.registry_url}/v2/_catalog?n={self.page}"
        while url is not None and self.pages_walked < CATALOG_MAX_PAGES:
            response = self._session.get(url, timeout=REQUEST_TIMEOUT_S)
            response.raise_for_status()
            self.pages_walked += 1
            yield from response.json().get("repositories") or []
            url = self._next_page(response)

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def _next_page(self, response: requests.Response) -> str | None:
        following = response.links.get("next", {}).get("url")
        if following is None or following.startswith("http"):
            return following
        return self.registry_url + following


def document_row(doc: RepositoryDocument) -> tuple[str, str, str, str]:
    """The ``(name, title, description, labels)`` a SQL peer stores for ``doc``; labels are the values."""
    return (doc.name, doc.title or "", doc.description or "", " ".join(doc.labels.values()))


class _SqlPeer:
    """An SQLite database at ``path`` (``":memory:"`` by default) holding a table ``repositories``."""

    name: str

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._db = sqlite3.connect(path)

    def search(self, q: str, limit: int, arch: str | None = None) -> PeerAnswer:
        """As :meth:`Peer.search`."""
        raise NotImplementedError

    def build(self, documents: Iterable[RepositoryDocument]) -> None:
        """Recreate the tables with one repository row per document, in one transaction."""
        with self._db:
            for table, create in self._tables().items():
                self._db.execute(f"DROP TABLE IF EXISTS {table}")
                self._db.execute(create)
            self._insert(documents)

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def _tables(self) -> dict[str, str]:
        """Table name → its CREATE statement."""
        raise NotImplementedError

    def _insert(self, documents: Iterable[RepositoryDocument]) -> None:
        raise NotImplementedError


def like_pattern(chunk: str) -> str:
    """``%chunk%`` with ``%``, ``_`` and the escape character in ``chunk`` matching only themselves."""
    escaped = chunk.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", _LIKE_ESCAPE + "%")
    return "%" + escaped.replace("_", _LIKE_ESCAPE + "_") + "%"


def exact_parameters(q: str) -> dict[str, object]:
    """``key`` and ``leaf`` for ``_EXACT``: the whole name, and ``%/key`` for its last segment.

    Without an exact key (several words) they match no repository name.
    """
    key = exact_key(q)
    if key is None:
        return {"key": "", "leaf": ""}
    return {"key": key, "leaf": like_pattern("/" + key)[:-1]}


class SqlLike(_SqlPeer):
    """``LIKE '%chunk%'`` over name, title, description and labels.

    Every chunk must be a substring of some column (AND across chunks, OR
    across columns), case-insensitively for ASCII as SQLite's ``LIKE`` is;
    ``%`` and ``_`` in the query are literal characters. With ``arch``, a
    column ``arches`` (the platform keywords, each between spaces) must also
    be ``LIKE '% arch %'``: a whole keyword, so ``arm`` never matches
    ``arm64``, and free text never matches it. A trailing ``*``
    is dropped: a substring match already finds every word that starts with
    the chunk, so ``ngin*`` finds what ``ngin`` finds (a superset of a
    word-prefix match). Best first: an exact name (or last path segment),
    then the names containing more of the chunks, then shorter names, then
    alphabetical. One statement per search, with parameters only: a single
    scan both counts the matches (``COUNT(*) OVER ()``) and keeps the best
    (a third faster here than a ``COUNT(*)`` and a ``LIMIT`` statement); no
    index can help a leading ``%``.
    """

    name = "sql like"

    def search(self, q: str, limit: int, arch: str | None = None) -> PeerAnswer:
        """Every row matching all chunks of ``q`` (and ``arch``) counted; the best ``limit`` (at least 1) named."""
        check_limit(limit)
        needles, wanted = chunks(q), filter_arch(arch)
        if wanted is not None and wanted.split() != [wanted]:
            return PeerAnswer(0, ())  # keywords hold no white space: nothing matches, as in the index
        parameters: dict[str, object] = {f"c{n}": like_pattern(c) for n, c in enumerate(needles)}
        parameters |= exact_parameters(q) | {"limit": limit, "arch": like_pattern(f" {wanted} ")}
        clauses = [self._chunk_clause(n) for n in range(len(needles))]
        where = " AND ".join(clauses + ([_ARCH_WORD] if wanted is not None else [])) or "1"
        rows = self._db.execute(
            f"SELECT name, COUNT(*) OVER () FROM repositories WHERE {where} "
            f"ORDER BY {self._order(len(needles))} LIMIT :limit",
            parameters,
        ).fetchall()
        return PeerAnswer(rows[0][1] if rows else 0, tuple(row[0] for row in rows))

    def _order(self, needles: int) -> str:
        in_name = [f"(name LIKE :c{n} ESCAPE '\\')" for n in range(needles)]
        chunks_in_name = [" + ".join(in_name) + " DESC"] if in_name else []
        return ", ".join([f"{_EXACT} DESC", *chunks_in_name, "length(name)", "name"])

    def _chunk_clause(self, number: int) -> str:
        return "(" + " OR ".join(f"{column} LIKE :c{number} ESCAPE '\\'" for column in _COLUMNS) + ")"

    def _tables(self) -> dict[str, str]:
        columns = ", ".join(f"{column} TEXT" for column in (*_COLUMNS, "arches"))
        return {"repositories": f"CREATE TABLE repositories ({columns})"}

    def _insert(self, documents: Iterable[RepositoryDocument]) -> None:
        self._db.executemany(
            "INSERT INTO repositories (name, title, description, labels, arches) VALUES (?, ?, ?, ?, ?)",
            ((*document_row(doc), f" {' '.join(platform_keywords(doc.platforms))} ") for doc in documents),
        )


def require_fts5() -> None:
    """Raise ``RuntimeError`` unless this Python's SQLite can create FTS5 tables."""
    try:
        with closing(sqlite3.connect(":memory:")) as db:
            db.execute("CREATE VIRTUAL TABLE probe USING fts5(text)")
    except sqlite3.OperationalError as error:
        raise RuntimeError(
            f"SQLite {sqlite3.sqlite_version} has no FTS5 ({error}); the FTS5 peer needs a build with it"
        ) from error


def fts5_query(q: str) -> str:
    """An FTS5 query for ``q``: the AND of every chunk's tokens, each quoted; ``x*`` makes its last token a prefix.

    Chunks are cut into tokens as unicode61 cuts text (letters and digits);
    a chunk without any is ignored, as Registry Search ignores it. Empty
    when ``q`` has no tokens at all.
    """
    terms = []
    for chunk in q.split():
        tokens = [f'"{token}"' for token in _TOKEN.findall(chunk.lower())]
        if tokens and chunk.endswith("*"):
            tokens[-1] += "*"
        terms += tokens
    return " AND ".join(terms)


class SqlFts5(_SqlPeer):
    """An FTS5 table over name, title, description and labels, tokenizer ``porter unicode61``.

    Text is cut into letters and digits and lower-cased (unicode61, which
    also folds diacritics), then Porter-stemmed, like the stemmed prose of
    Registry Search; FTS5 takes one tokenizer per table, so names are
    stemmed too. Every token of every chunk must be in the row, in any
    column (Registry Search asks a chunk's tokens to share one field). A
    trailing ``*`` makes the chunk's last token a prefix query. Best first:
    an exact name (or last path segment), then ``bm25()`` with the name
    column weighted ``FTS5_NAME_WEIGHT``, then name. A query with no tokens
    matches every row, shorter names first. With ``arch``, the row must
    also be in a plain side table ``architectures (arch, repository)``
    under exactly that keyword: a condition beside ``MATCH``, so free text
    never matches an architecture. Two statements per search:
    ``COUNT(*)`` reads the full-text index alone, and ``bm25()`` cannot run
    in the window a single statement would need. Raises ``RuntimeError``
    when SQLite lacks FTS5.
    """

    name = "sql fts5"

    def __init__(self, path: str = ":memory:") -> None:
        require_fts5()
        super().__init__(path)

    def search(self, q: str, limit: int, arch: str | None = None) -> PeerAnswer:
        """Every row matching the FTS5 form of ``q`` (and ``arch``) counted; the best ``limit`` named."""
        check_limit(limit)
        match, wanted = fts5_query(q), filter_arch(arch)
        conditions = ["repositories MATCH :match"] if match else []
        conditions += [_ARCH_ROW] if wanted is not None else []
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return self._answer(
            f"SELECT COUNT(*) FROM repositories{where}",
            f"SELECT name FROM repositories{where} ORDER BY {self._order(bool(match))} LIMIT :limit",
            {"match": match, "arch": wanted, "limit": limit} | exact_parameters(q),
        )

    def _order(self, ranked: bool) -> str:
        if not ranked:
            return "length(name), name"
        weights = ", ".join([str(FTS5_NAME_WEIGHT)] + ["1.0"] * (len(_COLUMNS) - 1))
        return f"{_EXACT} DESC, bm25(repositories, {weights}), name"

    def _answer(self, count_sql: str, names_sql: str, parameters: dict[str, object]) -> PeerAnswer:
        (total,) = self._db.execute(count_sql, parameters).fetchone()
        names = tuple(row[0] for row in self._db.execute(names_sql, parameters))
        return PeerAnswer(total, names)

    def _tables(self) -> dict[str, str]:
        columns = ", ".join(_COLUMNS)
        return {
            "repositories": f"CREATE VIRTUAL TABLE repositories USING fts5({columns}, tokenize='{FTS5_TOKENIZER}')",
            "architectures": "CREATE TABLE architectures (arch TEXT, repository INTEGER, "
            "PRIMARY KEY (arch, repository)) WITHOUT ROWID",
        }

    def _insert(self, documents: Iterable[RepositoryDocument]) -> None:
        numbered = list(enumerate(documents, start=1))
        self._db.executemany(
            "INSERT INTO repositories (rowid, name, title, description, labels) VALUES (?, ?, ?, ?, ?)",
            ((rowid, *document_row(doc)) for rowid, doc in numbered),
        )
        self._db.executemany(
            "INSERT INTO architectures (arch, repository) VALUES (?, ?)",
            ((arch, rowid) for rowid, doc in numbered for arch in platform_keywords(doc.platforms)),
        )
