"""A real registry whose notifications go to a real ``regsearch serve``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.registry import Credentials
from tests.support.oci import OciBuilder, push
from tests.support.registry import RegistryProcess
from tests.support.service import ServiceProcess


@dataclass
class Stack:
    registry: RegistryProcess
    service: ServiceProcess
    oci: OciBuilder
    creds: Credentials | None = None

    def push_image(self, repo: str, tag: str = "latest", **image: Any) -> str:
        """Build a single-platform OCI image and push it with skopeo; returns its digest."""
        built = self.oci.image(tag=tag, **image)
        push(built.path, tag, f"{self.registry.host}/{repo}:{tag}", creds=self.creds)
        return built.digest

    def push_index(self, repo: str, tag: str = "latest", fmt: str = "oci", **index: Any) -> str:
        built = self.oci.index(tag=tag, **index)
        push(built.path, tag, f"{self.registry.host}/{repo}:{tag}", creds=self.creds,
             all_platforms=True, format=fmt)  # type: ignore[arg-type]
        return built.digest

    def search(self, **params: Any) -> dict[str, Any]:
        response = self.service.get("/api/v1/search", **params)
        assert response.status_code == 200, response.text
        return response.json()

    def names(self, **params: Any) -> list[str]:
        return [r["name"] for r in self.search(**params)["results"]]

    def wait_names(self, predicate: Callable[[list[str]], bool], **params: Any) -> list[str]:
        answer = self.service.wait_for(
            "/api/v1/search", lambda a: predicate([r["name"] for r in a["results"]]), **params
        )
        return [r["name"] for r in answer["results"]]


@contextmanager
def running_stack(
    registry_factory: Callable[..., RegistryProcess],
    tmp_path: Path,
    oci: OciBuilder,
    *,
    auth: str | None = None,
    creds: Credentials | None = None,
    service_args: list[str] | None = None,
    htpasswd_from_registry: bool = False,
) -> Iterator[Stack]:
    """A registry notifying a started service; with ``htpasswd_from_registry`` the service
    checks search callers against the registry's own htpasswd file (``--htpasswd``)."""
    service = ServiceProcess(tmp_path / "data", "", extra=service_args)
    registry = registry_factory(notify_url=service.notify_url, notify_token=service.token, auth=auth)
    service.registry_url = registry.url
    if htpasswd_from_registry:
        service.extra += ["--htpasswd", str(registry.directory / "htpasswd")]
    service.start()
    try:
        yield Stack(registry, service, oci, creds)
    finally:
        service.stop()
