"""Bad input gets its status code; the service keeps serving; nothing acknowledged is lost."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from regsearch.logs.sqlite import SqliteLog
from tests.integration.stack import Stack, running_stack
from tests.support.oci import OciBuilder
from tests.support.registry import RegistryProcess
from tests.support.service import ServiceProcess
from webhooks.events import Event

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(registry_factory: Callable[..., RegistryProcess], tmp_path: Path, oci_builder: OciBuilder) -> Iterator[Stack]:
    with running_stack(registry_factory, tmp_path, oci_builder, service_args=["--max-body-bytes", "65536"]) as s:
        yield s


def push_event(i: int, repo: str = "burst/app") -> dict[str, object]:
    return {"id": f"evt-{i}", "action": "push", "timestamp": "2026-11-28T12:00:00Z",
            "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "repository": repo, "tag": f"t{i}", "digest": "sha256:" + "0" * 64}}


def test_each_bad_input_gets_its_status_and_the_service_keeps_serving(stack: Stack) -> None:
    svc = stack.service
    assert svc.notify(json.dumps({"events": []}), token="wrong").status_code == 401
    no_auth = requests.post(svc.notify_url, data=b"{}", timeout=5)
    assert no_auth.status_code == 401 and "error" in no_auth.json()
    assert svc.notify(b"x" * 70000).status_code == 413

    garbage = svc.notify(b"{not json")
    assert garbage.status_code == 202 and garbage.json()["dead_lettered"] == 1
    mixed = svc.notify(json.dumps({"events": [push_event(1), {"id": "bad", "action": "explode", "target": {}}]}),
                       content_type="text/plain")
    assert mixed.status_code == 202
    assert (mixed.json()["accepted"], mixed.json()["dead_lettered"]) == (1, 1)
    assert "action" in json.dumps(mixed.json()["errors"])

    for bad in ({"n": "0"}, {"n": "101"}, {"n": "many"}):
        answer = svc.get("/v1/search", q="x", **bad)
        assert answer.status_code == 400 and "n" in answer.json()["error"]["message"]
    assert svc.get("/api/v1/search", q="x" * 257).status_code == 400
    assert svc.get("/api/v1/search", limit="1000").status_code == 400
    assert svc.get("/nowhere").json()["error"]["status"] == 404

    stack.push_image("still/serving")
    stack.wait_names(lambda n: "still/serving" in n, q="serving")

    listed = svc.run_command("dead-letters")
    assert listed.returncode == 0
    assert "{not json" in listed.stdout and "explode" in listed.stdout
    assert "2 dead letter(s)" in listed.stdout


def test_dead_letters_replay(stack: Stack) -> None:
    svc = stack.service
    stack.push_image("replayed/app")
    stack.wait_names(lambda n: "replayed/app" in n, q="replayed")
    event = {"id": "late-1", "action": "push", "target": {"repository": "replayed/app", "tag": "latest"}}
    # a body cut short by a broken proxy: dead-lettered, then repaired by hand and replayed
    assert svc.notify(json.dumps({"events": [event]})[:-5]).json()["dead_lettered"] == 1
    replayed = svc.run_command("dead-letters", "--replay")
    assert replayed.returncode == 0 and "replayed 1" in replayed.stdout
    listed = svc.run_command("dead-letters")
    assert "1 dead letter(s)" in listed.stdout, "a body still unusable comes back as a dead letter"


def test_kill_9_during_a_burst_loses_nothing_acknowledged(
    registry_factory: Callable[..., RegistryProcess], tmp_path: Path
) -> None:
    registry = registry_factory()
    service = ServiceProcess(tmp_path / "data", registry.url)
    service.start()
    acknowledged: list[str] = []
    stop = threading.Event()

    def send(worker: int) -> None:
        i = 0
        while not stop.is_set():
            batch = [push_event(worker * 100000 + i + k) for k in range(3)]
            try:
                answer = service.notify(json.dumps({"events": batch}))
            except requests.RequestException:
                return
            if answer.status_code == 202:
                acknowledged.extend(str(e["id"]) for e in batch)
            i += 3

    senders = [threading.Thread(target=send, args=(w,)) for w in range(4)]
    for t in senders:
        t.start()
    while len(acknowledged) < 300:
        time.sleep(0.01)
    service.kill()
    stop.set()
    for t in senders:
        t.join()

    log = SqliteLog(service.data_dir / "events.sqlite3")
    stored = {Event.from_json(r.value or b"").id for r in log.read(0, 10**7)}
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged events lost"
    log.close()

    service.start()  # and it comes back
    assert service.get("/healthz").status_code == 200
    service.stop()
