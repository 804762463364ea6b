"""Push to a real registry, search through a real ``regsearch serve``."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.integration.stack import Stack, running_stack
from tests.support.oci import OciBuilder, delete
from tests.support.registry import RegistryProcess

pytestmark = pytest.mark.integration

LABELS = {
    "org.opencontainers.image.title": "Frobnicator",
    "org.opencontainers.image.description": "Frobnicates widgets at scale",
}


def test_push_makes_an_image_searchable(stack: Stack) -> None:
    digest = stack.push_image("team/frobnicator", "1.0", config={"labels": LABELS})
    stack.wait_names(lambda names: "team/frobnicator" in names, q="frobnicates")
    tags = stack.search(q="frobnicator", kind="tag")["results"]
    assert [(t["repository"], t["tag"], t["digest"]) for t in tags] == [("team/frobnicator", "1.0", digest)]
    assert tags[0]["platforms"] == [{"os": "linux", "architecture": "amd64", "variant": ""}]
    assert tags[0]["title"] == "Frobnicator"
    docker = stack.service.get("/v1/search", q="frobnicator").json()
    assert docker["num_results"] == 1
    assert docker["results"][0] == {
        "name": "team/frobnicator", "description": "Frobnicates widgets at scale",
        "star_count": 0, "is_official": False, "is_automated": False,
    }


def test_multi_platform_index_and_docker_manifest_list(stack: Stack) -> None:
    stack.push_index("multi/oci", "2.0")
    stack.push_index("multi/docker", "3.0", fmt="v2s2",
                     platforms=[{"os": "linux", "architecture": "arm", "variant": "v7"},
                                {"os": "linux", "architecture": "amd64"}])
    stack.wait_names(lambda n: {"multi/oci", "multi/docker"} <= set(n), q="multi")
    arm = stack.names(q="multi", arch="arm")
    assert arm == ["multi/docker"]
    repo = stack.service.get("/api/v1/repositories/multi/docker").json()
    [tag] = repo["tags"]
    assert tag["media_type"] == "application/vnd.docker.distribution.manifest.list.v2+json"
    assert {(p["architecture"], p["variant"]) for p in tag["platforms"]} == {("arm", "v7"), ("amd64", "")}
    assert len(tag["children"]) == 2 and len(tag["layers"]) == 2


def test_delete_removes_the_tag_and_then_the_repository(stack: Stack) -> None:
    stack.push_image("gone/soon", "a", layers=[b"a"])
    stack.push_image("gone/soon", "b", layers=[b"b"])
    stack.wait_names(lambda n: "gone/soon" in n, q="soon")
    delete(stack.registry.url, "gone/soon", "a")
    stack.service.wait_for("/api/v1/repositories/gone/soon", lambda r: [t["tag"] for t in r["tags"]] == ["b"])
    delete(stack.registry.url, "gone/soon", "b")
    stack.wait_names(lambda n: "gone/soon" not in n, q="soon")
    assert stack.service.get("/api/v1/repositories/gone/soon").status_code == 404


def test_pulls_are_counted(stack: Stack) -> None:
    stack.push_image("popular/app", "1")
    stack.wait_names(lambda n: "popular/app" in n, q="popular")
    accept = "application/vnd.oci.image.manifest.v1+json"
    for _ in range(3):
        requests.get(f"{stack.registry.url}/v2/popular/app/manifests/1", headers={"Accept": accept}, timeout=5)
    repo = stack.service.wait_for("/api/v1/repositories/popular/app", lambda r: r["pulls"] == 3)
    assert (repo["pulls_7d"], repo["pulls_30d"], repo["tag_pulls"]) == (3, 3, {"1": 3})
    stack.push_image("quiet/app", "1")
    stack.wait_names(lambda n: "quiet/app" in n, q="app")
    assert stack.names(q="app", sort="pulls") == ["popular/app", "quiet/app"]


def test_pushed_while_down_is_found_by_the_reconciler(
    registry_factory: Callable[..., RegistryProcess], tmp_path: Path, oci_builder: OciBuilder
) -> None:
    with running_stack(registry_factory, tmp_path, oci_builder, service_args=["--reconcile-interval", "1"]) as s:
        s.push_image("early/bird")
        s.wait_names(lambda n: "early/bird" in n, q="bird")
        assert s.service.stop() == 0
        s.push_image("late/bird")
        delete(s.registry.url, "early/bird", "latest")
        s.service.start()
        s.wait_names(lambda n: n == ["late/bird"], q="bird")


def test_a_killed_indexer_process_is_restarted_and_indexes_what_was_pushed_meanwhile(
    registry_factory: Callable[..., RegistryProcess], tmp_path: Path, oci_builder: OciBuilder
) -> None:
    # serve runs the indexer (with the reconcilers) in a child process: the parent logs its pid
    with running_stack(registry_factory, tmp_path, oci_builder) as s:
        s.push_image("before/crash")
        s.wait_names(lambda n: "before/crash" in n, q="crash")
        [pid] = [int(pid) for pid in re.findall(r"indexer running in process (\d+)", s.service.log())]
        os.kill(pid, signal.SIGKILL)
        s.push_image("during/crash")  # acknowledged by the parent, waiting in the event log
        s.wait_names(lambda n: n == ["before/crash", "during/crash"], q="crash")
        assert "the indexer process exited with status -9" in s.service.log()
        assert len(re.findall(r"indexer running in process (\d+)", s.service.log())) == 2
        assert s.service.get("/healthz").status_code == 200


def test_restart_keeps_the_index(stack: Stack) -> None:
    stack.push_image("kept/app", config={"labels": LABELS})
    stack.wait_names(lambda n: "kept/app" in n, q="kept")
    assert stack.service.stop() == 0
    stack.registry.stop()  # the index alone must answer
    stack.service.start()
    assert stack.names(q="kept") == ["kept/app"]
    stack.registry.start()


def test_crawl_indexes_everything_with_a_progress_bar(
    registry_factory: Callable[..., RegistryProcess], tmp_path: Path, oci_builder: OciBuilder
) -> None:
    registry = registry_factory()
    for name in ("crawl/one", "crawl/two"):
        built = oci_builder.image(tag="v1")
        from tests.support.oci import push

        push(built.path, "v1", f"{registry.host}/{name}:v1")
    from tests.support.service import ServiceProcess

    service = ServiceProcess(tmp_path / "data", registry.url)
    result = service.run_command("crawl")
    assert result.returncode == 0, result.stderr
    assert "crawling" in result.stderr and "2/2" in result.stderr
    service.start()
    try:
        names = [r["name"] for r in service.get("/api/v1/search", q="crawl").json()["results"]]
        assert sorted(names) == ["crawl/one", "crawl/two"]
    finally:
        service.stop()


def test_unreachable_registry_is_not_fatal(
    registry_factory: Callable[..., RegistryProcess], tmp_path: Path, oci_builder: OciBuilder
) -> None:
    with running_stack(registry_factory, tmp_path, oci_builder) as s:
        s.push_image("before/outage")
        s.wait_names(lambda n: "before/outage" in n, q="outage")
        s.registry.stop()
        event = {"id": "outage-1", "action": "push", "target": {
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "repository": "during/outage", "tag": "x"}}
        assert s.service.notify(json.dumps({"events": [event]})).status_code == 202
        assert s.names(q="outage") == ["before/outage"]  # still serving
        time.sleep(1.5)
        assert "retrying" in s.service.log()
        s.registry.start()
        s.push_image("after/outage")
        s.wait_names(lambda n: "after/outage" in n, q="outage")


def test_ready_once_the_index_holds_what_was_logged(stack: Stack) -> None:
    assert stack.service.get("/readyz").json() == {"status": "ready"}
    assert "regsearch_webhook_requests_total" in stack.service.get("/metrics").text


def test_sigterm_stops_cleanly(stack: Stack) -> None:
    assert stack.service.stop(signal.SIGTERM) == 0
    assert "stopped" in stack.service.log()
