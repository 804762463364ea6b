"""The query language of ``q``: what each query means, and where a bad one is wrong."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.query_language import (
    MAX_QUERY_LENGTH,
    MAX_TERMS,
    All,
    AnyOf,
    Digest,
    Exact,
    KeyValue,
    Not,
    Phrase,
    Pushed,
    QuerySyntaxError,
    Signed,
    TagPattern,
    Word,
    parse,
)

HEX64 = "4e07f3a1b2c3" + "0" * 52


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("q", "meaning"),
    [
        ("nginx", Word("nginx")),
        ("ngin*", Word("ngin", prefix=True)),
        ("nginx proxy", All((Word("nginx"), Word("proxy")))),
        ("nginx AND proxy", All((Word("nginx"), Word("proxy")))),
        ('"reverse proxy" web', All((Phrase("reverse proxy"), Word("web")))),
        ("arch:arm64 OR arch:AMD64", AnyOf((Exact("arch", "arm64"), Exact("arch", "amd64")))),
        ("a b OR c", AnyOf((All((Word("a"), Word("b"))), Word("c")))),
        ("(a OR b) c", All((AnyOf((Word("a"), Word("b"))), Word("c")))),
        ("a NOT b", All((Word("a"), Not(Word("b"))))),
        ("NOT NOT a", Not(Not(Word("a")))),
        ("ORACLE or AND1", All((Word("ORACLE"), Word("or"), Word("AND1")))),
        ("os:linux namespace:team-a/", All((Exact("os", "linux"), Exact("namespace", "team-a")))),
        ("registry:Reg.example:5000", Exact("registry", "reg.example:5000")),
        ("tag:v1.*", TagPattern("v1.*")),
        ("label:deprecated", KeyValue("label", "deprecated", None)),
        ('label:maintainer="Jane Doe"', KeyValue("label", "maintainer", "Jane Doe")),
        ('label:"maintainer=Jane Doe"', KeyValue("label", "maintainer", "Jane Doe")),
        ("annotation:org.opencontainers.image.title=x=y", KeyValue("annotation", "org.opencontainers.image.title", "x=y")),
        (f"digest:sha256:{HEX64.upper()}", Digest(HEX64, "sha256")),
        ("digest:4e07f3a1b2c3", Digest("4e07f3a1b2c3")),
        ("digest:sha256:4e07f3a1b2c3", Digest("4e07f3a1b2c3")),
        ("pushed:2026-01-31", Pushed(utc(2026, 1, 31), utc(2026, 2, 1))),
        ("pushed:>2026-01-01", Pushed(utc(2026, 1, 2), None)),
        ("pushed:>=2026-01-01", Pushed(utc(2026, 1, 1), None)),
        ("pushed:<2026-12", Pushed(None, utc(2026, 12, 1))),
        ("pushed:<=2026-12", Pushed(None, utc(2027, 1, 1))),
        ("pushed:2025..2026-02", Pushed(utc(2025, 1, 1), utc(2026, 3, 1))),
        ("pushed:*..2026", Pushed(None, utc(2027, 1, 1))),
        ("pushed:>=2026-01-01T10:00:00+02:00", Pushed(utc(2026, 1, 1, 8), None)),
        ("signed:TRUE", Signed(True)),
    ],
)
def test_what_a_query_means(q: str, meaning: object) -> None:
    assert parse(q) == meaning


@pytest.mark.parametrize("q", ["", "   ", "\t\n"])
def test_a_blank_query_means_nothing(q: str) -> None:
    assert parse(q) is None


@pytest.mark.parametrize(
    ("q", "message", "position"),
    [
        ("(nginx", "ends too early", 6),
        ("nginx)", "')' closes no '('", 5),
        ("nginx OR", "ends too early", 8),
        ("OR nginx", "OR needs a term on each side", 0),
        ("a OR OR b", "OR needs a term on each side", 5),
        ('web "reverse proxy', "quote is not closed", 4),
        ('a "" b', "empty quotes", 2),
        ("nginx:latest", "unknown field 'nginx:'", 0),
        ("ngi*nx", "'*' may only end a word", 3),
        ("*", "'*' must follow the start of a word", 0),
        ("tag:", "ends too early", 4),
        ("tag:v1/x", "a tag has 1 to 128", 4),
        ("label:=x", "'label:' needs a key", 6),
        ("label:a=", "needs a value after '='", 8),
        ('label:a= "b"', "must follow '=' directly", 9),
        ("digest:4e07f3", "at least 12 hex digits", 7),
        ("digest:md5:4e07f3a1b2c3", "unknown digest algorithm 'md5'", 7),
        ("digest:sha256:xyz", "hexadecimal", 14),
        ("pushed:yesterday", "'yesterday' is not a date", 7),
        ("pushed:>=soon", "'soon' is not a date", 9),
        ("pushed:2026-05..2026-01", "ends before it starts", 7),
        ("signed:maybe", "true or false", 7),
    ],
)
def test_a_bad_query_says_what_is_wrong_and_where(q: str, message: str, position: int) -> None:
    with pytest.raises(QuerySyntaxError) as raised:
        parse(q)
    assert message in raised.value.message
    assert raised.value.position == position
    assert str(raised.value).endswith(f"(at position {position})")


def test_limits_on_length_and_terms() -> None:
    assert parse(" ".join(["x"] * MAX_TERMS)) == All(tuple(Word("x") for _ in range(MAX_TERMS)))
    with pytest.raises(QuerySyntaxError, match=f"{MAX_TERMS + 1} terms; at most {MAX_TERMS}"):
        parse(" ".join(["x"] * (MAX_TERMS + 1)))
    with pytest.raises(QuerySyntaxError, match=f"{MAX_QUERY_LENGTH + 1} characters long"):
        parse("x" * (MAX_QUERY_LENGTH + 1))


QUERY_PIECES = st.sampled_from(
    ["nginx", "OR", "AND", "NOT", "(", ")", '"', "*", ":", "=", "..", ">", "<=", "tag:", "label:", "digest:",
     "pushed:", "signed:", "arch:", "2026-01-01", "sha256:", HEX64[:12], " ", "\t", "é", "\x00"]
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=80), st.lists(QUERY_PIECES, max_size=20).map("".join)))
def test_any_text_is_a_query_or_a_syntax_error(q: str) -> None:
    try:
        parse(q)
    except QuerySyntaxError as error:
        assert 0 <= error.position <= len(q)
        assert error.message
