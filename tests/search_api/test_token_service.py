"""Asking a token service what an identity may pull: batches, claims, and what failures mean."""

from __future__ import annotations

import jwt
import pytest
import requests

from search_api.token_service import (
    TokenPolicy,
    TokenRefused,
    TokenService,
    TokenServiceUnavailable,
    granted_pulls,
    scope_batches,
    token_claims,
)
from tests.search_api.fake_token_service import REALM, SERVICE, FakeTokenService

USERS = {"alice": "alice-secret", "bob": "bob-secret"}
NAMES = [f"alice/app{i}" for i in range(7)] + ["bob/db", "shared/base"]


@pytest.fixture
def fake() -> FakeTokenService:
    return FakeTokenService(USERS, {"alice": {n for n in NAMES if n.startswith("alice/")} | {"shared/base"},
                                    "bob": {"bob/db"}})


def service_for(fake: FakeTokenService, scopes_per_request: int = 3, threads: int = 2) -> TokenService:
    return TokenService(TokenPolicy(REALM, SERVICE, scopes_per_request=scopes_per_request, threads=threads),
                        session=fake.session())


def test_batches_are_sorted_unique_and_at_most_the_size() -> None:
    assert list(scope_batches(["c", "a", "b", "a", "d"], 2)) == [["a", "b"], ["c", "d"]]
    assert list(scope_batches([], 5)) == []
    assert [len(b) for b in scope_batches(map(str, range(101)), 50)] == [50, 50, 1]


def test_one_request_per_batch_with_the_callers_credentials(fake: FakeTokenService) -> None:
    granted = service_for(fake).pullable(("alice", "alice-secret"), NAMES)
    assert granted == {n for n in NAMES if n != "bob/db"}
    assert sorted(len(a.names) for a in fake.asked) == [3, 3, 3]
    assert sorted(n for a in fake.asked for n in a.names) == sorted(NAMES)
    for asked in fake.asked:
        assert asked.user == "alice" and asked.params["service"] == [SERVICE] and asked.params["account"] == ["alice"]
        assert all(scope.endswith(":pull") and scope.startswith("repository:") for scope in asked.params["scope"])


def test_credentials_travel_in_utf8_as_the_caller_sent_them(fake: FakeTokenService) -> None:
    fake.users["zoë"] = "pässwörd ✓"
    fake.grants["zoë"] = {"shared/base"}
    assert service_for(fake).pullable(("zoë", "pässwörd ✓"), NAMES) == {"shared/base"}


def test_anonymous_asks_without_credentials(fake: FakeTokenService) -> None:
    fake.grants[None] = {"shared/base"}
    assert service_for(fake, scopes_per_request=50).pullable(None, NAMES) == {"shared/base"}
    assert [(a.user, "account" in a.params) for a in fake.asked] == [(None, False)]


@pytest.mark.parametrize("credentials", [("alice", "wrong"), ("mallory", "x"), None])
def test_a_401_is_a_refusal(fake: FakeTokenService, credentials: tuple[str, str] | None) -> None:
    with pytest.raises(TokenRefused):
        service_for(fake).pullable(credentials, NAMES)


@pytest.mark.parametrize("failure", [500, 502, 404, 400, requests.ConnectionError("refused"), requests.Timeout()])
def test_anything_else_is_unavailable_and_names_the_realm(fake: FakeTokenService, failure: int | Exception) -> None:
    fake.failure = failure
    with pytest.raises(TokenServiceUnavailable, match=f"the token service at {REALM}"):
        service_for(fake).pullable(("alice", "alice-secret"), NAMES)


def test_an_answer_without_a_jwt_is_unavailable() -> None:
    with pytest.raises(TokenServiceUnavailable, match="not a JWT"):
        token_claims("not.a.token")
    claims = token_claims(jwt.encode({"access": []}, "x" * 32, algorithm="HS256"))
    assert claims == {"access": []}, "our own fetch is trusted: its origin is the realm we asked"


def test_pull_must_be_granted_in_so_many_words() -> None:
    claims = {"access": [
        {"type": "repository", "name": "a", "actions": ["pull", "push"]},
        {"type": "repository", "name": "b", "actions": ["push"]},
        {"type": "repository", "name": "c", "actions": ["*"]},
        {"type": "registry", "name": "d", "actions": ["pull"]},
        {"type": "repository", "name": "e", "actions": "pull"},
        {"type": "repository", "name": "not-asked", "actions": ["pull"]},
        "garbage",
    ]}
    assert granted_pulls(claims, ["a", "b", "c", "d", "e"]) == {"a"}
    assert granted_pulls(claims) == {"a", "not-asked"}
    assert granted_pulls({"access": None}, ["a"]) == frozenset()


def test_a_policy_out_of_bounds_is_refused() -> None:
    with pytest.raises(ValueError, match="--token-service"):
        TokenPolicy(REALM, "")
    with pytest.raises(ValueError, match="--token-scopes-per-request must be between 1 and 1000"):
        TokenPolicy(REALM, SERVICE, scopes_per_request=0)
    with pytest.raises(ValueError, match="--token-cache-seconds must be between 0 and 3600"):
        TokenPolicy(REALM, SERVICE, cache_seconds=86400)
