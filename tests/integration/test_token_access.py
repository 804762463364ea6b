"""``--auth token``: the registry's own token service decides, and every endpoint obeys it.

The token service is a real one, the distribution project's
``contrib/token-server`` (built from its Go module by ``scripts/token-server``;
the test fails if it cannot be built). Its policy: Basic credentials are
required (anonymous gets a 401, so anonymous sees nothing), and a user may
pull only the repositories under ``<user>/``.

Two registry processes serve ONE storage directory:

- the registry users push to has ``auth: token`` with the token-server as
  its realm and a self-signed certificate of the token-server's key as its
  ``rootcertbundle``. The users push here with skopeo, through the token flow.
- the indexer reads through the other, an internal read endpoint with
  ``auth: htpasswd`` (admin): the token-server grants no one every
  repository, so the indexer could not read through the first. The
  ``shared/`` namespace, which no user may push to, is pushed here by admin.

Both notify the service, which asks the token-server what each caller may
pull. The test holds the token-server's key, so it can mint a token that
sees everything while it waits for the index.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from tests.integration.stack import Stack, running_stack
from tests.support.oci import OciBuilder, push
from tests.support.registry import USERS, Notifications, RegistryProcess, credentials
from tests.support.token_server import ISSUER, SERVICE, TokenServerProcess, build_token_server
from tests.support.waiting import wait_until

BASE = b"the shared base layer\n"
ALICE_BASE = (BASE, b"alice's base\n")
# repository -> (pusher, layers, architecture); alice/base is a base of alice/app, shared/base of every BASE image
IMAGES: dict[str, tuple[str, tuple[bytes, ...], str]] = {
    "shared/base": ("admin", (BASE,), "amd64"),
    "alice/base": ("alice", ALICE_BASE, "amd64"),
    "alice/app": ("alice", (*ALICE_BASE, b"alice/app\n"), "amd64"),
    "alice/cli": ("alice", (b"alice/cli\n",), "arm64"),
    "bob/database": ("bob", (BASE, b"bob/database\n"), "amd64"),
}
EVERYONE = set(IMAGES)
SEES: dict[str | None, set[str]] = {
    None: set(),
    "alice": {"alice/base", "alice/app", "alice/cli"},
    "bob": {"bob/database"},
}
Auth = tuple[str, str] | str | None  # Basic credentials, a Bearer token, or anonymous


@pytest.fixture(scope="session")
def token_server_binary() -> Path:
    return build_token_server()


@pytest.fixture
def token_server(token_server_binary: Path, tmp_path: Path) -> Iterator[TokenServerProcess]:
    with TokenServerProcess(token_server_binary, tmp_path / "token-server", USERS) as server:
        yield server


@pytest.fixture
def stack(registry_factory: Callable[..., RegistryProcess], tmp_path: Path, oci_builder: OciBuilder,
          token_server: TokenServerProcess, everything: str) -> Iterator[Stack]:
    (tmp_path / "password").write_text(USERS["admin"] + "\n")
    args = ["--registry-username", "admin", "--registry-password-file", str(tmp_path / "password"),
            "--auth", "token", "--token-realm", token_server.realm, "--token-service", SERVICE,
            "--token-cert", str(token_server.cert_path), "--token-issuer", ISSUER, "--token-scopes-per-request", "2"]
    with running_stack(registry_factory, tmp_path, oci_builder, auth="htpasswd", creds=credentials("admin"),
                       service_args=args) as s, users_registry(s, token_server, tmp_path) as pushed_to:
        for name, (user, layers, arch) in IMAGES.items():
            built = oci_builder.image(tag="1", layers=layers, config={"architecture": arch})
            target = s.registry if user == "admin" else pushed_to
            push(built.path, "1", f"{target.host}/{name}:1", creds=credentials(user))
        wait_until(lambda: names(s, everything, q="", limit=10) == EVERYONE, 60, "every image is indexed")
        yield s


@pytest.fixture
def everything(token_server: TokenServerProcess) -> str:
    """A token granting pull on every repository, signed with the token-server's key."""
    return token_server.mint(sorted(EVERYONE))


@pytest.fixture
def base_layer(stack: Stack, everything: str) -> str:
    """The digest of the layer every image but alice/cli starts with."""
    return str(get(stack, everything, "/api/v1/repositories/shared/base").json()["tags"][0]["layers"][0])


@contextmanager
def users_registry(stack: Stack, token_server: TokenServerProcess, tmp_path: Path) -> Iterator[RegistryProcess]:
    """The registry users push to: ``auth: token``, on the storage of ``stack.registry``, notifying
    the service as that one does."""
    storage = json.loads(stack.registry.config_path.read_text())["storage"]
    with RegistryProcess(tmp_path / "users-registry", auth=token_server.registry_auth(),
                         notifications=Notifications(stack.service.notify_url, stack.service.token),
                         extra_config={"storage": storage}) as registry:
        yield registry


def get(stack: Stack, auth: Auth, path: str, **params: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {auth}"} if isinstance(auth, str) else {}
    return requests.get(stack.service.url + path, params=params, headers=headers,
                        auth=auth if isinstance(auth, tuple) else None, timeout=30)


def names(stack: Stack, auth: Auth, **params: Any) -> set[str]:
    answer = get(stack, auth, "/api/v1/search", **params)
    return {r["name"] for r in answer.json()["results"]} if answer.status_code == 200 else set()


def basic(user: str | None) -> Auth:
    return (user, USERS[user]) if user else None


def test_the_token_server_grants_each_user_their_own_namespace(token_server: TokenServerProcess) -> None:
    assert token_server.token(None, "repository:alice/app:pull").status_code == 401
    bob = token_server.token(("bob", USERS["bob"]), "repository:alice/app:pull", "repository:bob/database:pull")
    assert [a["name"] for a in _claims(bob.json()["access_token"])["access"]] == ["bob/database"]


@pytest.mark.parametrize("user", [None, "alice", "bob"])
def test_every_endpoint_shows_exactly_what_the_token_service_grants(
    stack: Stack, base_layer: str, user: str | None
) -> None:
    check_every_endpoint(stack, basic(user), SEES[user], base_layer)


def test_a_bearer_token_of_the_token_service_sees_what_it_grants(
    stack: Stack, token_server: TokenServerProcess, base_layer: str
) -> None:
    answer = token_server.token(("alice", USERS["alice"]), "repository:alice/app:pull", "repository:alice/cli:pull",
                                "repository:bob/database:pull")
    check_every_endpoint(stack, answer.json()["access_token"], {"alice/app", "alice/cli"}, base_layer)
    other = token_server.token(("alice", USERS["alice"]), "repository:alice/app:pull", service="another-registry")
    refused = get(stack, other.json()["access_token"], "/api/v1/search", q="")
    assert refused.status_code == 401 and refused.json()["error"]["message"] == "the Bearer token is for another service"


def check_every_endpoint(stack: Stack, auth: Auth, seen: set[str], base_layer: str) -> None:
    """Results, counts, facets, tags, docker search, suggestions, digests, lineage and pages: ``seen`` only."""
    found = get(stack, auth, "/api/v1/search", q="", facets="true", limit=10).json()
    assert {r["name"] for r in found["results"]} == seen and found["total"] == len(seen)
    assert sum(found["facets"]["arch"].values()) == len(seen)
    assert set(found["facets"]["namespace"]) == {name.split("/")[0] for name in seen}
    tags = get(stack, auth, "/api/v1/search", q="", kind="tag", limit=10).json()
    assert {r["repository"] for r in tags["results"]} == seen and tags["total"] == len(seen)

    docker = get(stack, auth, "/v1/search", q="").json()
    assert docker["num_results"] == len(seen) and {r["name"] for r in docker["results"]} == seen

    assert {s["text"] for s in get(stack, auth, "/api/v1/suggest", prefix="", limit=50).json()["suggestions"]} == seen
    assert get(stack, auth, "/api/v1/suggest", prefix="bob/database:").json()["suggestions"] == (
        [{"text": "bob/database:1", "kind": "tag", "pulls": 0}] if "bob/database" in seen else [])
    assert get(stack, auth, "/api/v1/search", q="databse").json()["suggestion"] == (
        "database" if "bob/database" in seen else None)

    holding = get(stack, auth, f"/api/v1/digests/{base_layer}").json()["results"]
    assert {r["repository"] for r in holding} == seen - {"alice/cli"}

    check_lineage(stack, auth, seen)
    for name in EVERYONE:
        page = get(stack, auth, f"/api/v1/repositories/{name}")
        missing = get(stack, auth, f"/api/v1/repositories/{name}-missing")
        assert page.status_code == (200 if name in seen else 404)
        if name not in seen:
            assert page.json()["error"]["message"] == missing.json()["error"]["message"].replace("-missing", "")


def check_lineage(stack: Stack, auth: Auth, seen: set[str]) -> None:
    """Base and derived lists name visible images only; a hidden image's lists are a 404."""
    derived = get(stack, auth, "/api/v1/images/alice/base:1/derived")
    bases = get(stack, auth, "/api/v1/images/alice/app:1/base")
    if "alice/base" in seen:
        assert {r["repository"] for r in derived.json()["results"]} == seen & {"alice/app"}
    else:
        assert derived.status_code == 404
    if "alice/app" in seen:
        assert {r["repository"] for r in bases.json()["results"]} == seen & {"alice/base", "shared/base"}
    else:
        assert bases.status_code == 404
    database = get(stack, auth, "/api/v1/images/bob/database:1/base")
    if "bob/database" in seen:
        assert database.json()["results"] == [], "its base, shared/base, is nobody's to see"


def test_wrong_credentials_are_challenged_not_downgraded(stack: Stack) -> None:
    for path in ("/api/v1/search", "/v1/search"):
        wrong = requests.get(stack.service.url + path, params={"q": ""}, auth=("alice", "nope"), timeout=30)
        assert wrong.status_code == 401
        assert wrong.headers["WWW-Authenticate"] == 'Basic realm="Registry Search"'
        assert "refused these credentials" in wrong.json()["error"]["message"]
    assert "nope" not in stack.service.log()
    assert requests.get(stack.service.url + "/healthz", auth=("alice", "nope"), timeout=10).status_code == 200


def test_a_token_service_that_is_down_is_a_503_not_everything(stack: Stack, token_server: TokenServerProcess) -> None:
    assert get(stack, basic("alice"), "/api/v1/search", q="").status_code == 200
    token_server.stop()
    down = get(stack, basic("bob"), "/api/v1/search", q="")
    assert down.status_code == 503
    assert down.json()["error"]["message"].startswith(f"the token service at {token_server.realm} cannot be reached")
    assert get(stack, None, "/v1/search", q="").status_code == 503
    assert {r["name"] for r in get(stack, basic("alice"), "/api/v1/search", q="").json()["results"]} == SEES["alice"], \
        "alice's grants are remembered for --token-cache-seconds"


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims
