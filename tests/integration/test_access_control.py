"""``--auth htpasswd``: each caller sees exactly what the ACL lets them pull, in every endpoint.

A real registry with ``auth: htpasswd`` (users alice, bob and admin); images
pushed with skopeo share a base layer, so digests and lineage cross the
ACL's lines; the service reads the registry's own htpasswd file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.stack import Stack, running_stack
from tests.support.oci import OciBuilder
from tests.support.registry import USERS, RegistryProcess, credentials
from tests.support.service import ServiceProcess

ACL = """
anonymous: ["public/*"]
users:
  alice: ["team-a/*"]
  admin: ["*"]
groups:
  readers: {members: [bob], pull: ["team-b/*", "shared/*"]}
"""
BASE = b"the shared base layer\n"
EVERYONE = {"public/web", "team-a/app", "team-b/db", "shared/base", "secret/vault"}
SEES = {
    None: {"public/web"},
    "alice": {"public/web", "team-a/app"},
    "bob": {"public/web", "team-b/db", "shared/base"},
    "admin": EVERYONE,
}


@pytest.fixture
def stack(registry_factory: Callable[..., RegistryProcess], tmp_path: Path, oci_builder: OciBuilder) -> Iterator[Stack]:
    (tmp_path / "password").write_text(USERS["admin"] + "\n")
    (tmp_path / "acl.yaml").write_text(ACL)
    args = ["--registry-username", "admin", "--registry-password-file", str(tmp_path / "password"),
            "--auth", "htpasswd", "--acl", str(tmp_path / "acl.yaml")]
    with running_stack(registry_factory, tmp_path, oci_builder, auth="htpasswd", creds=credentials("admin"),
                       service_args=args, htpasswd_from_registry=True) as s:
        s.push_image("shared/base", "1", layers=(BASE,))
        for name, arch in (("public/web", "amd64"), ("team-a/app", "arm64"), ("team-b/db", "amd64"),
                           ("secret/vault", "s390x")):
            s.push_image(name, "1", layers=(BASE, name.encode()), config={"architecture": arch})
        s.service.wait_for("/api/v1/search", lambda a: {r["name"] for r in a["results"]} == EVERYONE,
                           auth=("admin", USERS["admin"]), q="", limit=10)
        yield s


def get(stack: Stack, user: str | None, path: str, **params: Any) -> requests.Response:
    auth = (user, USERS[user]) if user else None
    return requests.get(stack.service.url + path, params=params, auth=auth, timeout=10)


@pytest.mark.parametrize("user", [None, "alice", "bob", "admin"])
def test_every_endpoint_shows_exactly_what_the_caller_may_pull(stack: Stack, user: str | None) -> None:
    seen = SEES[user]
    found = get(stack, user, "/api/v1/search", q="", facets="true", limit=10).json()
    assert {r["name"] for r in found["results"]} == seen and found["total"] == len(seen)
    assert sum(found["facets"]["arch"].values()) == len(seen)
    assert set(found["facets"]["namespace"]) == {name.split("/")[0] for name in seen}
    tags = get(stack, user, "/api/v1/search", q="", kind="tag", limit=10).json()
    assert {r["repository"] for r in tags["results"]} == seen

    docker = get(stack, user, "/v1/search", q="").json()
    assert docker["num_results"] == len(seen) and {r["name"] for r in docker["results"]} == seen

    suggested = get(stack, user, "/api/v1/suggest", prefix="", limit=50).json()["suggestions"]
    assert {s["text"] for s in suggested} == seen
    assert get(stack, user, "/api/v1/suggest", prefix="secret/vault:").json()["suggestions"] == (
        [{"text": "secret/vault:1", "kind": "tag", "pulls": 0}] if "secret/vault" in seen else [])

    base = get(stack, "admin", "/api/v1/repositories/shared/base").json()["tags"][0]["layers"][0]
    holding = get(stack, user, f"/api/v1/digests/{base}").json()["results"]
    assert {r["repository"] for r in holding} == seen

    derived = get(stack, user, "/api/v1/images/shared/base:1/derived")
    if "shared/base" in seen:
        # lineage goes platform by platform: the arm64 and s390x images are built on no amd64 base
        assert {r["repository"] for r in derived.json()["results"]} == seen & {"public/web", "team-b/db"}
    else:
        assert derived.status_code == 404
    bases = get(stack, user, "/api/v1/images/public/web:1/base").json()["results"]
    assert {r["repository"] for r in bases} == seen & {"shared/base"}

    for name in EVERYONE:
        page = get(stack, user, f"/api/v1/repositories/{name}")
        missing = get(stack, user, f"/api/v1/repositories/{name}-missing")
        if name in seen:
            assert page.status_code == 200
        else:
            assert page.status_code == 404
            assert page.json()["error"]["message"] == missing.json()["error"]["message"].replace("-missing", "")


def test_spelling_never_suggests_a_hidden_name(stack: Stack) -> None:
    assert get(stack, "admin", "/api/v1/search", q="vaulr").json()["suggestion"] == "vault"
    assert get(stack, None, "/api/v1/search", q="vaulr").json()["suggestion"] is None
    assert get(stack, "bob", "/api/v1/search", q="vaulr").json()["total"] == 0


def test_wrong_credentials_are_challenged_not_downgraded(stack: Stack) -> None:
    wrong = requests.get(stack.service.url + "/api/v1/search", auth=("alice", "nope"), timeout=10)
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == 'Basic realm="Registry Search"'
    assert wrong.json()["error"]["message"] == "wrong user name or password"
    assert "nope" not in stack.service.log()
    unknown = requests.get(stack.service.url + "/v1/search", params={"q": "x"}, auth=("mallory", "x"), timeout=10)
    assert unknown.status_code == 401
    assert requests.get(stack.service.url + "/healthz", auth=("alice", "nope"), timeout=10).status_code == 200
    ping = requests.get(stack.service.url + "/v1/_ping", timeout=10)
    assert ping.headers["X-Docker-Registry-Standalone"] == "true", "so docker sends its credentials"


def test_open_search_on_a_public_address_is_announced(
    registry_factory: Callable[..., RegistryProcess], tmp_path: Path
) -> None:
    registry = registry_factory()
    service = ServiceProcess(tmp_path / "data", registry.url)
    service.extra = ["--listen", f"0.0.0.0:{service.port}"]
    service.start()
    try:
        service.wait_for("/healthz", lambda _: "SEARCH IS OPEN" in service.log())
    finally:
        service.stop()
    quiet = ServiceProcess(tmp_path / "quiet", registry.url)
    quiet.start()
    try:
        assert quiet.get("/healthz").status_code == 200
        assert "SEARCH IS OPEN" not in quiet.log() and "serving on" in quiet.log()
    finally:
        quiet.stop()
