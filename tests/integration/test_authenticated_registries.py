"""The service indexes registries behind htpasswd (Basic) and token auth."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.stack import running_stack
from tests.support.oci import OciBuilder, delete
from tests.support.registry import USERS, RegistryProcess, credentials

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("auth", ["htpasswd", "token"])
def test_push_and_delete_behind_auth(
    auth: str, registry_factory: Callable[..., RegistryProcess], tmp_path: Path, oci_builder: OciBuilder
) -> None:
    password_file = tmp_path / "password"
    password_file.write_text(USERS["admin"] + "\n")
    args = ["--registry-username", "admin", "--registry-password-file", str(password_file)]
    admin = credentials("admin")
    with running_stack(registry_factory, tmp_path, oci_builder, auth=auth, creds=admin, service_args=args) as s:
        s.push_image("secret/app", "1.0")
        s.push_image("secret/app", "2.0", layers=[b"two"])
        s.wait_names(lambda n: "secret/app" in n, q="secret")
        delete(s.registry.url, "secret/app", "1.0", creds=admin)
        s.service.wait_for("/api/v1/repositories/secret/app", lambda r: [t["tag"] for t in r["tags"]] == ["2.0"])
        if auth == "token":
            issuer = s.registry.issuer
            assert issuer is not None
            # many registry calls for this repository, one token (cached until expiry)
            assert 1 <= issuer.requests_by_scope["repository:secret/app:pull"] <= 2


def test_wrong_registry_password_is_reported_and_not_fatal(
    registry_factory: Callable[..., RegistryProcess], tmp_path: Path, oci_builder: OciBuilder
) -> None:
    password_file = tmp_path / "password"
    password_file.write_text("not-the-password\n")
    args = ["--registry-username", "admin", "--registry-password-file", str(password_file)]
    with running_stack(registry_factory, tmp_path, oci_builder, auth="htpasswd",
                       creds=credentials("admin"), service_args=args) as s:
        s.push_image("locked/app")
        s.service.wait_for("/healthz", lambda a: "admin" in s.service.log() and "retrying" in s.service.log())
        assert "not-the-password" not in s.service.log()
        assert s.service.get("/api/v1/search", q="locked").status_code == 200
