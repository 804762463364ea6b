"""The pure authentication pieces of the registry client: challenges, links, tokens."""

from __future__ import annotations

import threading
import time

import pytest

from indexer.registry_auth import (
    DEFAULT_TOKEN_LIFETIME,
    TOKEN_MARGIN,
    Challenge,
    Token,
    TokenCache,
    parse_challenges,
    parse_next_link,
    parse_token_answer,
    pick_challenge,
)


class TestChallenges:
    def test_bearer_with_all_parameters(self) -> None:
        header = 'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"'
        assert parse_challenges(header) == [
            Challenge(
                "bearer",
                {"realm": "https://auth.example/token", "service": "registry.example", "scope": "repository:a/b:pull"},
            )
        ]

    def test_quoted_value_keeps_its_commas(self) -> None:
        (challenge,) = parse_challenges('Bearer realm="r",scope="repository:a:pull,push",service="s"')
        assert challenge.scope == "repository:a:pull,push"
        assert challenge.service == "s"

    def test_basic_and_case_insensitive_names(self) -> None:
        (challenge,) = parse_challenges('BASIC Realm="registry realm"')
        assert challenge.scheme == "basic"
        assert challenge.realm == "registry realm"
        assert challenge.service is None and challenge.scope is None

    def test_escaped_quote_and_unquoted_token(self) -> None:
        (challenge,) = parse_challenges(r'Bearer realm="say \"hi\"", service=plain')
        assert challenge.realm == 'say "hi"'
        assert challenge.service == "plain"

    def test_several_challenges_in_one_header(self) -> None:
        challenges = parse_challenges('Basic realm="b", Bearer realm="t",service="s"')
        assert [c.scheme for c in challenges] == ["basic", "bearer"]
        assert challenges[1].params == {"realm": "t", "service": "s"}

    def test_pick_prefers_bearer(self) -> None:
        picked = pick_challenge('Basic realm="b", Bearer realm="t"')
        assert picked is not None and picked.scheme == "bearer" and picked.realm == "t"

    @pytest.mark.parametrize("header", [None, "", 'Negotiate abc', "   "])
    def test_pick_without_a_known_scheme(self, header: str | None) -> None:
        assert pick_challenge(header) is None


class TestNextLink:
    def test_relative_link_as_distribution_sends_it(self) -> None:
        header = '</v2/_catalog?last=a%2Fsingle&n=2>; rel="next"'
        assert parse_next_link(header) == "/v2/_catalog?last=a%2Fsingle&n=2"

    def test_absolute_link_among_others(self) -> None:
        header = '<https://r.example/v2/x/tags/list?n=1>; rel="prev", <https://r.example/v2/x/tags/list?last=b&n=1>; rel="next"'
        assert parse_next_link(header) == "https://r.example/v2/x/tags/list?last=b&n=1"

    def test_unquoted_rel_and_several_relations(self) -> None:
        assert parse_next_link("</next>; title=x; rel=next") == "/next"
        assert parse_next_link('</n>; rel="last next"') == "/n"

    @pytest.mark.parametrize("header", [None, "", '</v2/_catalog>; rel="prev"', "garbage"])
    def test_no_next(self, header: str | None) -> None:
        assert parse_next_link(header) is None


class TestTokenAnswer:
    def test_token_with_lifetime_less_margin(self) -> None:
        token = parse_token_answer({"token": "t1", "expires_in": 300}, now=1000.0)
        assert token == Token("t1", 1000.0 + 300 - TOKEN_MARGIN)

    def test_access_token_and_default_lifetime(self) -> None:
        token = parse_token_answer({"access_token": "t2"}, now=0.0)
        assert token.value == "t2"
        assert token.use_until == DEFAULT_TOKEN_LIFETIME - TOKEN_MARGIN

    def test_short_lifetime_keeps_half(self) -> None:
        assert parse_token_answer({"token": "t", "expires_in": 4}, now=0.0).use_until == 2.0

    @pytest.mark.parametrize("expires_in", [0, -5, "300", None, True])
    def test_nonsense_lifetime_is_the_default(self, expires_in: object) -> None:
        token = parse_token_answer({"token": "t", "expires_in": expires_in}, now=0.0)
        assert token.use_until == DEFAULT_TOKEN_LIFETIME - TOKEN_MARGIN

    @pytest.mark.parametrize("answer", [{}, {"token": ""}, {"token": 5}, [], "token"])
    def test_no_token_is_an_error(self, answer: object) -> None:
        with pytest.raises(ValueError):
            parse_token_answer(answer, now=0.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TestTokenCache:
    def test_fetches_once_until_expiry(self) -> None:
        clock = FakeClock()
        cache = TokenCache(clock)
        fetched: list[float] = []

        def fetch(now: float) -> Token:
            fetched.append(now)
            return Token(f"token-{len(fetched)}", now + 50)

        assert cache.get_or_fetch("scope", fetch) == "token-1"
        clock.now += 49
        assert cache.get_or_fetch("scope", fetch) == "token-1"
        clock.now += 1
        assert cache.get_or_fetch("scope", fetch) == "token-2"
        assert fetched == [100.0, 150.0]

    def test_keys_are_separate_and_drop_forgets(self) -> None:
        cache = TokenCache(FakeClock())
        counter = iter(range(100))

        def fetch(now: float) -> Token:
            return Token(f"t{next(counter)}", now + 60)

        assert cache.get_or_fetch("a", fetch) == "t0"
        assert cache.get_or_fetch("b", fetch) == "t1"
        cache.drop("a")
        assert cache.get_or_fetch("a", fetch) == "t2"
        assert cache.get_or_fetch("b", fetch) == "t1"

    def test_concurrent_misses_fetch_once(self) -> None:
        cache = TokenCache()
        calls: list[int] = []
        results: list[str] = []

        def slow_fetch(now: float) -> Token:
            calls.append(1)
            time.sleep(0.05)
            return Token("shared", now + 60)

        def worker() -> None:
            results.append(cache.get_or_fetch("scope", slow_fetch))

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert calls == [1]
        assert results == ["shared"] * 8
