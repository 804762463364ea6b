"""One service, two real registries: a configuration file lists them, each notifies its own path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import requests

from tests.integration.stack import Stack
from tests.support.oci import OciBuilder
from tests.support.registry import RegistryProcess
from tests.support.service import ServiceProcess

MAIN_HOST = "main.registry.test"


def config_file(path: Path, main: RegistryProcess, mirror: RegistryProcess) -> Path:
    path.write_text(f"""
reconcile_interval = 3600

[[registries]]
name = "main"
url = "{main.url}"
webhook_tokens = ["main-token"]
hosts = ["{MAIN_HOST}"]

[[registries]]
name = "mirror"
url = "{mirror.url}"
webhook_tokens = ["mirror-token"]
""")
    return path


def test_two_registries_are_indexed_apart_and_docker_search_follows_the_host(
    registry_factory: Callable[..., RegistryProcess], tmp_path: Path, oci_builder: OciBuilder
) -> None:
    service = ServiceProcess(tmp_path / "data", "", token="unused-shared-token")
    main = registry_factory(notify_url=f"{service.url}/notifications/main", notify_token="main-token")
    mirror = registry_factory(notify_url=f"{service.url}/notifications/mirror", notify_token="mirror-token")
    config = config_file(tmp_path / "regsearch.toml", main, mirror)
    service.extra = ["--config", str(config)]
    service.start()
    try:
        Stack(main, service, oci_builder).push_image("team/app", "1.0", config={"architecture": "amd64"})
        at_mirror = Stack(mirror, service, oci_builder)
        at_mirror.push_image("team/app", "2.0", config={"architecture": "arm64"})
        at_mirror.push_image("other/tool", "1", layers=(b"a tool\n",))
        found = service.wait_for("/api/v1/search", lambda a: a["total"] == 3, q="", facets="true")
        assert sorted((r["registry"], r["name"], r["tags"][0]) for r in found["results"]) == sorted([
            (main.host, "team/app", "1.0"), (mirror.host, "other/tool", "1"), (mirror.host, "team/app", "2.0")])
        assert found["facets"]["registry"] == {mirror.host: 2, main.host: 1}
        only_mirror = service.get("/api/v1/search", q=f"app registry:{mirror.host}").json()
        assert [(r["registry"], r["platforms"][0]["architecture"]) for r in only_mirror["results"]] == [
            (mirror.host, "arm64")]

        def docker_search(host: str) -> tuple[int, list[str]]:
            body = requests.get(f"{service.url}/v1/search", params={"q": "app"}, headers={"Host": host},
                                timeout=10).json()
            return body["num_results"], [r["name"] for r in body["results"]]

        assert docker_search(MAIN_HOST) == (1, ["team/app"])
        assert docker_search(mirror.host) == (1, ["team/app"])
        assert docker_search(f"127.0.0.1:{service.port}") == (2, ["team/app", "team/app"])

        envelope = b'{"events": []}'
        crossed = requests.post(f"{service.url}/notifications/main", data=envelope,
                                headers={"Authorization": "Bearer mirror-token"}, timeout=10)
        assert crossed.status_code == 401, "a registry's token opens only its own path"
        unknown = requests.post(f"{service.url}/notifications/backup", data=envelope,
                                headers={"Authorization": "Bearer main-token"}, timeout=10)
        assert unknown.status_code == 404 and "no registry named 'backup'" in unknown.json()["error"]
    finally:
        service.stop()

    # a new service on an empty index walks both catalogs
    fresh = ServiceProcess(tmp_path / "fresh", "", token="unused-shared-token", extra=["--config", str(config)])
    fresh.start()
    try:
        crawled = fresh.wait_for("/api/v1/search", lambda a: a["total"] == 3, q="")
        assert sorted((r["registry"], r["name"]) for r in crawled["results"]) == sorted([
            (main.host, "team/app"), (mirror.host, "other/tool"), (mirror.host, "team/app")])
    finally:
        fresh.stop()
