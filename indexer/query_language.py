"""The query language of ``q`` in ``/api/v1/search``: words, quotes, fields and ``AND``/``OR``/``NOT``.

``nginx proxy`` needs both words; ``"reverse proxy"`` is a phrase;
``ngin*`` a prefix; ``arch:arm64 OR arch:amd64`` either platform;
``NOT label:deprecated`` excludes; parentheses group. Adjacent terms are
AND-ed; ``NOT`` binds tighter than ``AND``, which binds tighter than ``OR``.
The operators are upper case: ``or`` is a word.

Fields (:data:`FIELDS`): ``arch:``, ``os:``, ``namespace:``, ``registry:``
(exact values); ``tag:`` with ``*`` wildcards; ``label:KEY=VALUE`` and
``annotation:KEY=VALUE`` (``label:KEY`` for presence; quote values with
spaces, ``label:maintainer="Jane Doe"``); ``digest:`` a full digest or a hex
prefix of at least :data:`MIN_DIGEST_PREFIX` characters; ``pushed:`` a date,
``>``/``>=``/``<``/``<=`` a date, or ``FROM..TO`` (``*`` for open), dates as
``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` or an ISO 8601 time, in UTC;
``signed:true|false``.

:func:`parse` returns the :data:`Expression` tree, or raises
:class:`QuerySyntaxError` saying what is wrong and at which position (0-based,
in characters): the search API answers it as a 400. Nothing here knows
Whoosh: ``indexer/index.py`` translates the tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timedelta, timezone
from typing import Literal, Union

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

MAX_QUERY_LENGTH = 256
MAX_TERMS = 32
MIN_DIGEST_PREFIX = 12
FIELDS = ("arch", "os", "tag", "label", "annotation", "namespace", "registry", "digest", "pushed", "signed")
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_HEX = re.compile(r"[0-9a-f]+")
_TAG_PATTERN = re.compile(r"[A-Za-z0-9_.*-]{1,128}")
_KEY = re.compile(r"[^\s=]+")


class QuerySyntaxError(ValueError):
    """``q`` is not a query: ``message`` says why, ``position`` where (0-based)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at position {position})")
        self.message = message
        self.position = position


@dataclass(frozen=True)
class Word:
    """A free word; ``prefix`` when it ended in ``*``."""

    text: str
    prefix: bool = False


@dataclass(frozen=True)
class Phrase:
    """Quoted words, matched next to each other in this order."""

    text: str


@dataclass(frozen=True)
class Exact:
    """``arch:``, ``os:``, ``namespace:`` or ``registry:``: the field holds exactly ``value``."""

    field: Literal["arch", "os", "namespace", "registry"]
    value: str


@dataclass(frozen=True)
class TagPattern:
    """``tag:``: a tag name, ``*`` matching any run of characters."""

    pattern: str


@dataclass(frozen=True)
class KeyValue:
    """``label:`` or ``annotation:``: key ``key`` holds ``value``, or is present when ``value`` is None."""

    field: Literal["label", "annotation"]
    key: str
    value: str | None


@dataclass(frozen=True)
class Digest:
    """``digest:``: a full ``algorithm:hex`` digest, or (``algorithm`` None) a prefix of one's hex."""

    hex: str
    algorithm: str | None = None


@dataclass(frozen=True)
class Pushed:
    """``pushed:``: pushed at or after ``start`` and before ``end`` (None: unbounded), in UTC."""

    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class Signed:
    """``signed:``: whether the registry holds a signature for the image."""

    value: bool


@dataclass(frozen=True)
class All:
    """Every part matches."""

    parts: tuple[Expression, ...]


@dataclass(frozen=True)
class AnyOf:
    """At least one part matches."""

    parts: tuple[Expression, ...]


@dataclass(frozen=True)
class Not:
    """``part`` does not match."""

    part: Expression


Term = Union[Word, Phrase, Exact, TagPattern, KeyValue, Digest, Pushed, Signed]
Expression = Union[Term, All, AnyOf, Not]

_GRAMMAR = r"""
?start: or_expr?
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND? not_expr)*
?not_expr: _NOT not_expr -> negation
         | atom
?atom: "(" or_expr ")"
     | FIELD ":" value -> field
     | PHRASE -> phrase
     | WORD -> word
value: VALUE | PHRASE | VALUE PHRASE

_OR: "OR"
_AND: "AND"
_NOT: "NOT"
FIELD.2: /[A-Za-z_]+(?=:)/
PHRASE: /"[^"]*"/
WORD: /[^\s():"]+/
VALUE: /[^\s()"]+/

%import common.WS
%ignore WS
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False)


@lru_cache(maxsize=1024)
def parse(q: str) -> Expression | None:
    """The query ``q`` says; None when it says nothing (blank). Raises :class:`QuerySyntaxError`.

    Cached (the trees are immutable): the API checks ``q`` and the index then
    reads it again, and a page's highlights and facets read it once more.
    """
    if len(q) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(f"the query is {len(q)} characters long; at most {MAX_QUERY_LENGTH} are allowed",
                               MAX_QUERY_LENGTH)
    try:
        tree = _PARSER.parse(q)
    except UnexpectedInput as error:
        raise _syntax_error(q, error) from None
    if isinstance(tree, Tree) and tree.data == "start":  # only a blank query leaves the start rule
        return None
    try:
        expression: Expression = _Build().transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, QuerySyntaxError):
            raise error.orig_exc from None
        raise
    terms = _count_terms(expression)
    if terms > MAX_TERMS:
        raise QuerySyntaxError(f"the query has {terms} terms; at most {MAX_TERMS} are allowed", 0)
    return expression


def field_term(field: str, value: str) -> Expression:
    """``field:value`` as :func:`parse` reads it, for filters given apart from ``q`` (query
    parameters); raises :class:`QuerySyntaxError`, positions counted in ``value``."""
    if field not in FIELDS:
        raise QuerySyntaxError(f"unknown field '{field}:' (known: {', '.join(FIELDS)})", 0)
    if not value:
        raise QuerySyntaxError(f"'{field}:' needs a value", 0)
    return _FIELD_VALUES[field](field, value, 0)


def _syntax_error(q: str, error: UnexpectedInput) -> QuerySyntaxError:
    if isinstance(error, UnexpectedEOF):
        return QuerySyntaxError("the query ends too early: a term is missing", len(q))
    if isinstance(error, UnexpectedCharacters):
        position = error.pos_in_stream or 0
        if q[position] == '"':
            return QuerySyntaxError("a quote is not closed", position)
        return QuerySyntaxError(f"unexpected {q[position]!r}", position)
    assert isinstance(error, UnexpectedToken)
    token = error.token
    if token.type == "$END":
        return QuerySyntaxError("the query ends too early: a term is missing", len(q))
    position = token.start_pos if token.start_pos is not None else 0
    if token.type == "RPAR":
        return QuerySyntaxError("')' closes no '('", position)
    if token.type in ("_OR", "_AND"):
        return QuerySyntaxError(f"{token.value} needs a term on each side", position)
    return QuerySyntaxError(f"unexpected {token.value!r}", position)


@v_args(inline=True)
class _Build(Transformer):
    """The parse tree as :data:`Expression` objects, each field's value checked."""

    def or_expr(self, *parts: Expression) -> Expression:
        return AnyOf(parts)

    def and_expr(self, *parts: Expression) -> Expression:
        return All(parts)

    def negation(self, part: Expression) -> Expression:
        return Not(part)

    def phrase(self, token: Token) -> Expression:
        text = token.value[1:-1].strip()
        if not text:
            raise QuerySyntaxError("empty quotes", token.start_pos or 0)
        return Phrase(text)

    def word(self, token: Token) -> Expression:
        text, position = token.value, token.start_pos or 0
        if text in ("OR", "AND"):  # lexed as a word only where the operator cannot stand
            raise QuerySyntaxError(f"{text} needs a term on each side", position)
        stem = text.rstrip("*")
        if not stem:
            raise QuerySyntaxError("'*' must follow the start of a word, as in ngin*", position)
        if "*" in stem:
            raise QuerySyntaxError("'*' may only end a word (tag: takes wildcards anywhere)", position + stem.index("*"))
        return Word(stem, prefix=stem != text)

    def value(self, *tokens: Token) -> tuple[str, int]:
        if len(tokens) == 2 and tokens[0].end_pos != tokens[1].start_pos:
            raise QuerySyntaxError("a quoted value must follow '=' directly", tokens[1].start_pos or 0)
        text = "".join(t.value[1:-1] if t.type == "PHRASE" else t.value for t in tokens)
        return text, tokens[0].start_pos or 0

    def field(self, name: Token, value: tuple[str, int]) -> Expression:
        field = name.value.lower()
        if field not in FIELDS:
            raise QuerySyntaxError(f"unknown field '{name.value}:' (known: {', '.join(FIELDS)})", name.start_pos or 0)
        text, position = value
        if not text:
            raise QuerySyntaxError(f"'{field}:' needs a value", position)
        return _FIELD_VALUES[field](field, text, position)


def _exact(field: str, text: str, position: int) -> Expression:
    value = text.lower().rstrip("/") if field != "registry" else text.lower()
    if not value:
        raise QuerySyntaxError(f"'{field}:' needs a value", position)
    return Exact(field, value)  # type: ignore[arg-type]


def _tag(field: str, text: str, position: int) -> Expression:
    if not _TAG_PATTERN.fullmatch(text):
        raise QuerySyntaxError("a tag has 1 to 128 letters, digits, '_', '.', '-' (and '*' to match any)", position)
    return TagPattern(text)


def _key_value(field: str, text: str, position: int) -> Expression:
    key, equals, value = text.partition("=")
    if not _KEY.fullmatch(key):
        raise QuerySyntaxError(f"'{field}:' needs a key, as in {field}:KEY=VALUE or {field}:KEY", position)
    if equals and not value:
        raise QuerySyntaxError(f"'{field}:{key}=' needs a value after '='", position + len(text))
    return KeyValue(field, key, value if equals else None)  # type: ignore[arg-type]


def _digest(field: str, text: str, position: int) -> Expression:
    algorithm, colon, hex_part = text.lower().rpartition(":")
    if colon and algorithm not in _DIGEST_LENGTHS:
        raise QuerySyntaxError(f"unknown digest algorithm '{algorithm}' (known: {', '.join(_DIGEST_LENGTHS)})", position)
    if not _HEX.fullmatch(hex_part):
        raise QuerySyntaxError("a digest is hexadecimal, as in sha256:4e07f3... or 4e07f3a1b2c3", position + len(algorithm) + len(colon))
    if colon and len(hex_part) == _DIGEST_LENGTHS[algorithm]:
        return Digest(hex_part, algorithm)
    if len(hex_part) < MIN_DIGEST_PREFIX:
        raise QuerySyntaxError(f"a digest prefix needs at least {MIN_DIGEST_PREFIX} hex digits", position)
    if len(hex_part) > max(_DIGEST_LENGTHS.values()) or (colon and len(hex_part) > _DIGEST_LENGTHS[algorithm]):
        raise QuerySyntaxError("the digest is longer than its algorithm's", position)
    return Digest(hex_part)


def _pushed(field: str, text: str, position: int) -> Expression:
    for operator in (">=", "<=", ">", "<"):
        if text.startswith(operator):
            start, end = _period(text[len(operator):], position + len(operator))
            bounds = {">=": (start, None), ">": (end, None), "<": (None, start), "<=": (None, end)}
            return Pushed(*bounds[operator])
    if ".." in text:
        first, _, last = text.partition("..")
        since = None if first == "*" else _period(first, position)[0]
        until = None if last == "*" else _period(last, position + len(first) + 2)[1]
        if since is not None and until is not None and until <= since:
            raise QuerySyntaxError("the range ends before it starts", position)
        return Pushed(since, until)
    return Pushed(*_period(text, position))


def _period(text: str, position: int) -> tuple[datetime, datetime]:
    """The first instant of ``text`` (a year, month, day or time) and the first after it."""
    formats = (("%Y", "year"), ("%Y-%m", "month"), ("%Y-%m-%d", "day"))
    for pattern, unit in formats:
        try:
            start = datetime.strptime(text, pattern).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
        return start, _after(start, unit)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QuerySyntaxError(
            f"'{text}' is not a date: use YYYY, YYYY-MM, YYYY-MM-DD or an ISO 8601 time", position
        ) from None
    moment = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    return moment, moment + timedelta(microseconds=1)


def _after(start: datetime, unit: str) -> datetime:
    if unit == "day":
        return start + timedelta(days=1)
    if unit == "month":
        return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start.replace(year=start.year + 1)


def _signed(field: str, text: str, position: int) -> Expression:
    value = text.lower()
    if value not in ("true", "false"):
        raise QuerySyntaxError("'signed:' is true or false", position)
    return Signed(value == "true")


_FIELD_VALUES = {
    "arch": _exact, "os": _exact, "namespace": _exact, "registry": _exact,
    "tag": _tag, "label": _key_value, "annotation": _key_value,
    "digest": _digest, "pushed": _pushed, "signed": _signed,
}


def _count_terms(expression: Expression) -> int:
    if isinstance(expression, (All, AnyOf)):
        return sum(_count_terms(part) for part in expression.parts)
    if isinstance(expression, Not):
        return _count_terms(expression.part)
    return 1
