"""The query language end to end: images pushed with skopeo to a real registry, searched over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.integration.stack import Stack

BASE_LAYER = b"debian bookworm base layer\n"


def test_fields_operators_and_phrases_find_exactly_the_pushed_images(stack: Stack) -> None:
    web = stack.push_image(
        "team-a/web", "1.4.2", layers=(BASE_LAYER, b"web server\n"),
        config={"labels": {"org.opencontainers.image.description": "reverse proxy for the team",
                           "maintainer": "Jane Doe"}},
        annotations={"org.opencontainers.image.vendor": "Acme Corp"},
    )
    stack.push_image("team-a/worker", "latest", layers=(BASE_LAYER, b"worker\n"),
                     config={"labels": {"deprecated": "true"}, "architecture": "arm64"})
    stack.push_index("team-b/tools/cli", "2.0", platforms=[{"os": "linux", "architecture": "arm64"},
                                                           {"os": "windows", "architecture": "amd64"}])
    stack.push_image("other/db", "16", layers=(b"another base\n",))
    everything = {"team-a/web", "team-a/worker", "team-b/tools/cli", "other/db"}
    stack.wait_names(lambda names: set(names) == everything, q="", limit=10)

    web_tag = stack.service.get("/api/v1/repositories/team-a/web").json()["tags"][0]
    shared = web_tag["layers"][0]
    today = datetime.fromisoformat(web_tag["pushed"].replace("Z", "+00:00")).astimezone(timezone.utc).date()
    expected = {
        "team": {"team-a/web", "team-a/worker", "team-b/tools/cli"},
        '"reverse proxy"': {"team-a/web"},
        '"proxy reverse"': set(),
        "arch:arm64": {"team-a/worker", "team-b/tools/cli"},
        "os:windows": {"team-b/tools/cli"},
        "namespace:team-b": {"team-b/tools/cli"},
        "namespace:team-b/tools": {"team-b/tools/cli"},
        f"registry:{stack.registry.host}": everything,
        "tag:1.*": {"team-a/web"},
        "tag:latest OR tag:16": {"team-a/worker", "other/db"},
        "label:deprecated": {"team-a/worker"},
        'label:maintainer="jane doe"': {"team-a/web"},
        'annotation:org.opencontainers.image.vendor="Acme Corp"': {"team-a/web"},
        f"digest:{shared}": {"team-a/web", "team-a/worker"},
        f"digest:{shared.split(':')[1][:12]}": {"team-a/web", "team-a/worker"},
        f"digest:{web}": {"team-a/web"},
        f"pushed:>={today.isoformat()}": everything,
        f"pushed:<{today.isoformat()}": set(),
        f"pushed:>{(today + timedelta(days=1)).isoformat()}": set(),
        "team NOT label:deprecated": {"team-a/web", "team-b/tools/cli"},
        "(namespace:team-a OR namespace:other) NOT arch:arm64": {"team-a/web", "other/db"},
    }
    found = {q: set(stack.names(q=q, limit=10)) for q in expected}
    assert found == expected
    tags = stack.search(q=f"digest:{shared}", kind="tag")["results"]
    assert sorted(f"{t['repository']}:{t['tag']}" for t in tags) == ["team-a/web:1.4.2", "team-a/worker:latest"]
    assert stack.names(label=["maintainer", "maintainer=Jane Doe"]) == ["team-a/web"]
    assert set(stack.names(namespace="team-a", pushed_after=(today - timedelta(days=1)).isoformat())) == {
        "team-a/web", "team-a/worker"}


def test_a_query_that_does_not_parse_is_a_400_with_its_position(stack: Stack) -> None:
    response = stack.service.get("/api/v1/search", q="team AND (web")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "status": 400, "field": "q",
        "message": "query parameter 'q': the query ends too early: a term is missing (at position 13)",
    }
    docker = stack.service.get("/v1/search", q="team AND (web")
    assert docker.status_code == 200  # the docker engine's q is plain words


def test_pushing_a_signature_marks_the_image_signed(stack: Stack) -> None:
    digest = stack.push_image("team/signed-app", "1.0", layers=(b"signed app\n",))
    stack.push_image("team/unsigned-app", "1.0", layers=(b"unsigned app\n",))
    stack.wait_names(lambda names: len(names) == 2, q="app", limit=10)
    assert stack.names(q="signed:true") == []
    signature = digest.replace(":", "-") + ".sig"  # cosign's tag for the signature of that digest
    stack.push_image("team/signed-app", signature, layers=(b"a signature payload\n",))
    assert stack.wait_names(lambda names: names == ["team/signed-app"], q="signed:true") == ["team/signed-app"]
    tags = stack.search(q="signed:true", kind="tag")["results"]
    assert [(t["repository"], t["tag"], t["signed"]) for t in tags] == [("team/signed-app", "1.0", True)]
    assert stack.names(q="app NOT signed:true") == ["team/unsigned-app"]
