"""The access modes of the search API: htpasswd users, ACL grants, and 401s that say why."""

from __future__ import annotations

import base64
from pathlib import Path

import bcrypt
import pytest
from flask.testing import FlaskClient

from indexer.index import SearchIndex
from search_api.access import HtpasswdAccess, Unauthenticated, basic_credentials, install_access
from search_api.acl import Acl, AclError, load_acl
from search_api.app import create_app
from search_api.htpasswd import Htpasswd

ACL = """
anonymous: ["cache/*"]
users:
  alice: ["library/*"]
groups:
  readers:
    members: [bob]
    pull: ["tools/*"]
"""


def htpasswd_file(path: Path, **users: str) -> Path:
    # cost 4: the registry accepts any bcrypt cost, and the tests need not wait
    path.write_text("".join(f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode().replace('$2b$', '$2y$', 1)}\n"
                            for u, p in users.items()))
    return path


@pytest.fixture
def acl(tmp_path: Path) -> Acl:
    (tmp_path / "acl.yaml").write_text(ACL)
    return load_acl(tmp_path / "acl.yaml")


@pytest.fixture
def guarded(index: SearchIndex, acl: Acl, tmp_path: Path) -> FlaskClient:
    app = create_app(lambda: index, {"TESTING": True})
    users = Htpasswd(htpasswd_file(tmp_path / "htpasswd", alice="wonderland", bob="builder"))
    install_access(app, HtpasswdAccess(users, acl))
    return app.test_client()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def names(client: FlaskClient, **headers: str) -> list[str]:
    response = client.get("/api/v1/search?q=&limit=50", headers=headers)
    assert response.status_code == 200, response.get_json()
    return sorted(r["name"] for r in response.get_json()["results"])


def test_each_caller_sees_anonymous_grants_and_their_own(guarded: FlaskClient) -> None:
    assert names(guarded) == ["cache/redis"]
    assert names(guarded, **basic("alice", "wonderland")) == ["cache/redis", "library/nginx"]
    assert names(guarded, **basic("bob", "builder")) == ["cache/redis", "tools/nginx-untitled"]


def test_wrong_credentials_are_a_401_with_a_basic_challenge(guarded: FlaskClient) -> None:
    for headers in (basic("alice", "wrong"), basic("mallory", "x"), {"Authorization": "Bearer abc"},
                    {"Authorization": "Basic !!!"}):
        response = guarded.get("/api/v1/search?q=nginx", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Basic realm="Registry Search"'
        assert response.get_json()["error"]["status"] == 401
        assert "wrong" not in response.get_json()["error"]["message"].replace("wrong user name", "")
    assert guarded.get("/healthz", headers=basic("alice", "wrong")).status_code == 200


def test_a_hidden_repository_is_a_404_like_a_missing_one(guarded: FlaskClient) -> None:
    hidden = guarded.get("/api/v1/repositories/library/nginx")
    missing = guarded.get("/api/v1/repositories/library/nginy")
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert hidden.get_json()["error"]["message"] == missing.get_json()["error"]["message"].replace("nginy", "nginx")
    assert guarded.get("/api/v1/repositories/library/nginx", headers=basic("alice", "wonderland")).status_code == 200


def test_htpasswd_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = htpasswd_file(tmp_path / "htpasswd", alice="one")
    users = Htpasswd(path, remember_s=60)
    assert users.check("alice", "one") and not users.check("alice", "two") and not users.check("bob", "x")
    htpasswd_file(path, alice="two", bob="x")
    assert users.check("alice", "two") and users.check("bob", "x") and not users.check("alice", "one")


def test_entries_that_are_not_bcrypt_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    path.write_text("md5user:$apr1$abc$def\nplain:secret\n# comment\n")
    users = Htpasswd(path)
    assert not users.check("plain", "secret") and not users.check("md5user", "x")


@pytest.mark.parametrize("header", ["Basic " + base64.b64encode(b"nocolon").decode(), "Digest x", "Basic ###"])
def test_malformed_basic_credentials_say_so(header: str) -> None:
    with pytest.raises(Unauthenticated):
        basic_credentials(header)
    assert basic_credentials("Basic " + base64.b64encode(b"u:p:q").decode()) == ("u", "p:q")


def test_group_members_get_the_group_grants(acl: Acl) -> None:
    assert acl.visibility(None).patterns == ("cache/*",)
    assert acl.visibility("bob").patterns == ("cache/*", "tools/*")
    assert acl.visibility("carol").patterns == ("cache/*",), "an unknown user sees what anonymous sees"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("anonymous: public/*\n", "line 1: anonymous must be a list"),
        ("users:\n  alice: [ok/*]\n  bob: 3\n", "line 3: users.bob must be a list"),
        ("groups:\n  g: {pull: [x]}\n", "line 2: groups.g needs 'members'"),
        ("anonymous: []\nadmins: [x]\n", "line 2: the file: unknown key 'admins'"),
        ("users:\n  alice: [a]\n  alice: [b]\n", "line 3: users: 'alice' appears twice"),
        ("users:\n  alice: [\"\"]\n", "line 2: users.alice: every entry must be a non-empty string"),
        ("users: [alice\n", "line 2: not valid YAML"),
    ],
)
def test_a_malformed_acl_names_the_line_and_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "acl.yaml").write_text(text)
    with pytest.raises(AclError, match=problem.replace("[", r"\[")):
        load_acl(tmp_path / "acl.yaml")
