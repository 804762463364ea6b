"""``--auth token``: grants from the token service, remembered per identity for a while, and the
answers a caller gets when credentials are wrong or the token service cannot be asked."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient

from indexer.index import SearchIndex
from indexer.visibility import Visibility
from search_api.access import AccessUnavailable, Unauthenticated, install_access
from search_api.app import create_app
from search_api.bearer import BearerVerifier, load_public_keys
from search_api.token_access import GrantCache, Grants, TokenAccess
from search_api.token_service import TokenPolicy, TokenService
from tests.search_api.fake_token_service import ISSUER, REALM, SERVICE, FakeTokenService, certificate_pem

USERS = {"alice": "alice-secret", "bob": "bob-secret"}
TTL = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Candidates:
    """The index's repository names, changed by the test."""

    def __init__(self, *names: str) -> None:
        self.names = frozenset(names)

    def __call__(self) -> frozenset[str]:
        return self.names


@pytest.fixture
def fake() -> FakeTokenService:
    return FakeTokenService(USERS, {"alice": {"library/nginx", "cache/redis"}, "bob": {"tools/nginx-untitled"}})


@pytest.fixture
def clock() -> Clock:
    return Clock()


def policy_for(fake: FakeTokenService, candidates: Candidates, clock: Clock,
               bearer: BearerVerifier | None = None) -> TokenAccess:
    service = TokenService(TokenPolicy(REALM, SERVICE, scopes_per_request=2), session=fake.session())
    return TokenAccess(service, candidates, GrantCache(TTL, clock), bearer)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def names(visibility: Visibility | None) -> set[str]:
    assert visibility is not None and not visibility.patterns
    return set(visibility.names)


def test_grants_are_asked_once_per_identity_until_they_expire(fake: FakeTokenService, clock: Clock) -> None:
    access = policy_for(fake, Candidates("library/nginx", "cache/redis", "tools/nginx-untitled"), clock)
    assert names(access.visibility(basic("alice", "alice-secret"))) == {"library/nginx", "cache/redis"}
    assert len(fake.asked) == 2, "three names, two scopes per request"
    assert names(access.visibility(basic("alice", "alice-secret"))) == {"library/nginx", "cache/redis"}
    assert names(access.visibility(basic("bob", "bob-secret"))) == {"tools/nginx-untitled"}
    assert len(fake.asked) == 4, "bob is another identity"
    clock.now += TTL - 1
    access.visibility(basic("alice", "alice-secret"))
    assert len(fake.asked) == 4
    clock.now += 1
    access.visibility(basic("alice", "alice-secret"))
    assert len(fake.asked) == 6, "expired: everything asked again"


def test_a_new_repository_is_asked_about_at_the_next_request(fake: FakeTokenService, clock: Clock) -> None:
    candidates = Candidates("library/nginx", "tools/nginx-untitled")
    access = policy_for(fake, candidates, clock)
    assert names(access.visibility(basic("alice", "alice-secret"))) == {"library/nginx"}
    fake.asked.clear()
    candidates.names = frozenset({"library/nginx", "cache/redis"})
    assert names(access.visibility(basic("alice", "alice-secret"))) == {"library/nginx", "cache/redis"}
    assert [a.names for a in fake.asked] == [("cache/redis",)], "only the new name, and a gone one is dropped"
    clock.now += TTL
    fake.grants["alice"].discard("cache/redis")
    assert names(access.visibility(basic("alice", "alice-secret"))) == {"library/nginx"}, "a revoked grant lasts a TTL"


def test_concurrent_first_requests_of_one_identity_ask_once(fake: FakeTokenService, clock: Clock) -> None:
    access = policy_for(fake, Candidates("library/nginx", "cache/redis", "tools/nginx-untitled"), clock)
    fake.delay_s = 0.05
    with ThreadPoolExecutor(6) as pool:
        seen = list(pool.map(lambda _: names(access.visibility(basic("alice", "alice-secret"))), range(6)))
    assert seen == [{"library/nginx", "cache/redis"}] * 6
    assert len(fake.asked) == 2, "one round of two batches, not one per request"


def test_wrong_credentials_are_refused_every_time(fake: FakeTokenService, clock: Clock) -> None:
    access = policy_for(fake, Candidates("library/nginx"), clock)
    for _ in range(2):
        with pytest.raises(Unauthenticated, match="refused these credentials"):
            access.visibility(basic("alice", "wrong"))
    assert len(fake.asked) == 2, "a refusal is not remembered: the right password works at once"
    for malformed in ("Basic !!!", "Digest abc", "Basic " + base64.b64encode(b"nocolon").decode()):
        with pytest.raises(Unauthenticated):
            access.visibility(malformed)


def test_anonymous_sees_what_the_token_service_grants_anonymous(fake: FakeTokenService, clock: Clock) -> None:
    access = policy_for(fake, Candidates("library/nginx", "cache/redis"), clock)
    assert names(access.visibility(None)) == set(), "refused anonymous: nothing, and no error"
    access.visibility(None)
    assert len(fake.asked) == 1, "that refusal is remembered like a grant"
    fake.grants[None] = {"cache/redis"}
    clock.now += TTL
    assert names(access.visibility(None)) == {"cache/redis"}


def test_a_token_service_that_cannot_be_asked_decides_nothing(fake: FakeTokenService, clock: Clock) -> None:
    access = policy_for(fake, Candidates("library/nginx"), clock)
    access.visibility(basic("alice", "alice-secret"))
    fake.failure = requests.ConnectionError("down")
    assert names(access.visibility(basic("alice", "alice-secret"))) == {"library/nginx"}, "cached meanwhile"
    for authorization in (basic("bob", "bob-secret"), None):
        with pytest.raises(AccessUnavailable, match=f"the token service at {REALM} cannot be reached"):
            access.visibility(authorization)


def test_the_cache_holds_no_password(fake: FakeTokenService, clock: Clock) -> None:
    cache = GrantCache(TTL, clock)
    service = TokenService(TokenPolicy(REALM, SERVICE), session=fake.session())
    TokenAccess(service, Candidates("library/nginx"), cache).visibility(basic("alice", "alice-secret"))
    assert not any("alice" in identity for identity in cache._entries)


def test_the_oldest_identities_go_first_past_the_bound(clock: Clock) -> None:
    cache = GrantCache(TTL, clock, max_identities=2)
    for identity in ("a", "b", "c"):
        cache.put(identity, _grants(clock))
    assert (cache.get("a"), cache.get("b") is not None, cache.get("c") is not None) == (None, True, True)
    assert GrantCache(0, clock).get("a") is None


def _grants(clock: Clock) -> Grants:
    return Grants.of(clock.now + TTL, frozenset(), frozenset())


def test_bearer_tokens_need_the_certificate(fake: FakeTokenService, clock: Clock, tmp_path: Path) -> None:
    token = fake.token("alice", ["cache/redis"])
    without = policy_for(fake, Candidates("cache/redis"), clock)
    with pytest.raises(Unauthenticated, match="Bearer tokens are not accepted here"):
        without.visibility(f"Bearer {token}")
    (tmp_path / "bundle.pem").write_bytes(certificate_pem(fake.key))
    verifier = BearerVerifier(load_public_keys(tmp_path / "bundle.pem"), SERVICE, ISSUER)
    with_cert = policy_for(fake, Candidates("cache/redis"), clock, verifier)
    assert names(with_cert.visibility(f"Bearer {token}")) == {"cache/redis"}
    assert fake.asked == [], "a Bearer caller's grants are in its token"
    with pytest.raises(Unauthenticated, match="for another service"):
        with_cert.visibility(f"bearer {fake.token('alice', ['cache/redis'], audience='other')}")


@pytest.fixture
def guarded(index: SearchIndex, fake: FakeTokenService, clock: Clock) -> FlaskClient:
    app = create_app(lambda: index, {"TESTING": True})
    install_access(app, policy_for(fake, Candidates(*index.repository_names()), clock))
    return app.test_client()


def test_the_api_answers_401_and_503_as_json(guarded: FlaskClient, fake: FakeTokenService) -> None:
    found = guarded.get("/api/v1/search?q=", headers={"Authorization": basic("bob", "bob-secret")}).get_json()
    assert [r["name"] for r in found["results"]] == ["tools/nginx-untitled"] and found["total"] == 1
    assert guarded.get("/v1/search?q=nginx").get_json()["num_results"] == 0
    wrong = guarded.get("/api/v1/search?q=", headers={"Authorization": basic("bob", "nope")})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == 'Basic realm="Registry Search"'
    fake.failure = 502
    down = guarded.get("/api/v1/suggest?prefix=n", headers={"Authorization": basic("alice", "alice-secret")})
    assert down.status_code == 503 and down.headers["Retry-After"] == "5"
    assert down.get_json()["error"]["message"] == f"the token service at {REALM} answered 502; try again later"
    assert guarded.get("/healthz").status_code == 200
