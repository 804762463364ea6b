"""Digest lookups and base/derived images, through a real registry and skopeo-pushed images."""

from __future__ import annotations

from tests.integration.stack import Stack

OS = b"debian base\n"
RUNTIME = b"python runtime\n"


def test_digests_find_every_tag_holding_them_and_layers_give_lineage(stack: Stack) -> None:
    base = stack.push_image("lib/debian", "12", layers=(OS,))
    stack.push_image("lib/python", "3.12", layers=(OS, RUNTIME))
    stack.push_image("team/app", "1.0", layers=(OS, RUNTIME, b"the app\n"))
    stack.push_image("team/app", "0.9", layers=(OS, b"an older runtime\n", b"the app\n"))
    stack.push_image("other/tool", "1", layers=(b"unrelated\n",))
    index = stack.push_index("multi/cli", "2.0")
    everything = {"lib/debian", "lib/python", "team/app", "other/tool", "multi/cli"}
    stack.wait_names(lambda names: set(names) == everything, q="", limit=10)

    os_layer = stack.service.get("/api/v1/repositories/lib/debian").json()["tags"][0]["layers"][0]
    found = stack.service.get(f"/api/v1/digests/{os_layer}").json()
    assert [(r["repository"], r["tag"], r["roles"]) for r in found["results"]] == [
        ("lib/debian", "12", ["layer"]), ("lib/python", "3.12", ["layer"]),
        ("team/app", "0.9", ["layer"]), ("team/app", "1.0", ["layer"]),
    ]
    by_prefix = stack.service.get(f"/api/v1/digests/{base.split(':')[1][:12]}").json()["results"]
    assert [(r["repository"], r["roles"]) for r in by_prefix] == [("lib/debian", ["manifest"])]
    cli = stack.service.get("/api/v1/repositories/multi/cli").json()["tags"][0]
    child = cli["children"][0]
    assert [(r["repository"], r["digest"], r["roles"]) for r in stack.service.get(f"/api/v1/digests/{child}").json()["results"]] == [
        ("multi/cli", index, ["child"])]
    assert set(cli["platform_layers"]) == {"linux/amd64", "linux/arm64/v8"}

    def lineage(image: str, direction: str) -> list[tuple[str, str]]:
        body = stack.service.get(f"/api/v1/images/{image}/{direction}").json()
        return [(r["repository"], r["tag"]) for r in body["results"]]

    assert lineage("team/app:1.0", "base") == [("lib/python", "3.12"), ("lib/debian", "12")]
    assert lineage("team/app:0.9", "base") == [("lib/debian", "12")]
    assert lineage("lib/debian:12", "derived") == [("lib/python", "3.12"), ("team/app", "0.9"), ("team/app", "1.0")]
    assert lineage("lib/python:3.12", "derived") == [("team/app", "1.0")]
    assert lineage("other/tool:1", "base") == []


def test_unknown_images_and_bad_digests_are_clear_errors(stack: Stack) -> None:
    missing = stack.service.get("/api/v1/images/no/such:tag/base")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "image 'no/such:tag' is not in the index"
    assert stack.service.get("/api/v1/images/no-tag-given/base").status_code == 400
    short = stack.service.get("/api/v1/digests/abc123")
    assert short.status_code == 400
    assert "at least 12 hex digits" in short.json()["error"]["message"]
    assert stack.service.get("/api/v1/digests/sha256:" + "0" * 64).json()["results"] == []
