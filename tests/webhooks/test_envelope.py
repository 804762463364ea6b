"""The envelope schema: what is kept, what is dead-lettered, what is dropped."""

from __future__ import annotations

import json

import pytest

from webhooks.envelope import EnvelopeError, parse_envelope
from webhooks.events import Event

from tests.webhooks.samples import (
    CONFIG_PUSH,
    DELETE_BY_DIGEST,
    DELETE_TAG,
    LAYER_PUSH,
    MANIFEST_DIGEST,
    MANIFEST_PULL,
    MANIFEST_PUSH,
    REGISTRY,
    V2_INDEX_PUSH_BODY,
    edited,
    envelope,
)


def test_v1_batched_envelope_keeps_manifest_events_and_drops_blobs() -> None:
    body = envelope(LAYER_PUSH, CONFIG_PUSH, MANIFEST_PUSH, MANIFEST_PULL)

    parsed = parse_envelope(body, REGISTRY)

    assert parsed.events == (
        Event(
            id="f5033555-7597-42cc-87fe-14042c300870",
            action="push",
            registry=REGISTRY,
            repository="demo/app",
            tag="v1",
            digest=MANIFEST_DIGEST,
            media_type="application/vnd.oci.image.manifest.v1+json",
            timestamp="2026-11-28T13:32:07.709229052Z",
            actor=None,
        ),
        Event(
            id="6646d059-db10-4541-9abc-50001be9eadc",
            action="pull",
            registry=REGISTRY,
            repository="demo/app",
            tag="v1",
            digest=MANIFEST_DIGEST,
            media_type="application/vnd.oci.image.manifest.v1+json",
            timestamp="2026-11-28T13:32:07.741307885Z",
            actor=None,
        ),
    )
    assert parsed.dropped == 2
    assert parsed.problems == ()


def test_v2_single_event_with_oci_descriptor_fields() -> None:
    parsed = parse_envelope(V2_INDEX_PUSH_BODY, REGISTRY)

    (event,) = parsed.events
    assert event.action == "push"
    assert event.repository == "team/tools"
    assert event.tag == "1.4.2"
    assert event.media_type == "application/vnd.oci.image.index.v1+json"
    assert event.digest is not None and event.digest.startswith("sha256:3b8ebd7b")
    assert event.actor == "alice"
    assert event.timestamp == "2025-03-14T09:26:53.589793238Z"
    assert (parsed.problems, parsed.dropped) == ((), 0)


def test_registry_comes_from_the_caller_not_the_body() -> None:
    (event,) = parse_envelope(V2_INDEX_PUSH_BODY, "other.example").events

    assert event.registry == "other.example"
    assert event.key == "other.example/team/tools"


def test_deletes_by_digest_and_by_tag_are_kept() -> None:
    parsed = parse_envelope(envelope(DELETE_BY_DIGEST, DELETE_TAG), REGISTRY)

    by_digest, by_tag = parsed.events
    assert (by_digest.action, by_digest.digest, by_digest.tag) == ("delete", MANIFEST_DIGEST, None)
    assert (by_tag.action, by_tag.digest, by_tag.tag) == ("delete", None, "v1")
    assert by_digest.media_type is None


def test_missing_optional_fields_are_none() -> None:
    minimal = {"id": "e-1", "action": "push", "target": {"repository": "demo/app"}}

    (event,) = parse_envelope(envelope(minimal), REGISTRY).events

    assert event == Event(id="e-1", action="push", registry=REGISTRY, repository="demo/app")


def test_explicit_nulls_are_accepted_as_missing() -> None:
    event = edited(MANIFEST_PUSH)
    event.update(timestamp=None, actor=None)
    event["target"]["tag"] = None

    (parsed,) = parse_envelope(envelope(event), REGISTRY).events

    assert (parsed.timestamp, parsed.actor, parsed.tag) == (None, None, None)


def test_mount_is_kept_like_push() -> None:
    mount = edited(MANIFEST_PUSH, action="mount", target_fromRepository="demo/base")

    (event,) = parse_envelope(envelope(mount), REGISTRY).events

    assert event.action == "mount"


@pytest.mark.parametrize("action", ["purge", "sync", "PUSH", ""])
def test_unknown_action_is_a_problem(action: str) -> None:
    bad = edited(MANIFEST_PUSH, action=action)

    parsed = parse_envelope(envelope(LAYER_PUSH, bad, MANIFEST_PULL), REGISTRY)

    (problem,) = parsed.problems
    assert problem.index == 1
    assert problem.event_id == MANIFEST_PUSH["id"]
    assert problem.message.startswith("action: Must be one of: push, pull, mount, delete")
    assert json.loads(problem.raw) == bad
    assert [e.id for e in parsed.events] == [MANIFEST_PULL["id"]]
    assert parsed.dropped == 1


@pytest.mark.parametrize("bad_id", [None, "", 42])
def test_missing_or_empty_id_is_a_problem(bad_id: object) -> None:
    bad = edited(MANIFEST_PUSH, id=None)
    if bad_id is not None:
        bad["id"] = bad_id

    (problem,) = parse_envelope(envelope(bad), REGISTRY).problems

    assert problem.event_id is None
    assert problem.message.startswith("id: ")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (None, "target: Missing data for required field."),
        ("demo/app", "target: Invalid input type."),
    ],
)
def test_missing_or_malformed_target_is_a_problem(target: object, message: str) -> None:
    bad = edited(MANIFEST_PUSH, target=None)
    if target is not None:
        bad["target"] = target

    (problem,) = parse_envelope(envelope(bad), REGISTRY).problems

    assert problem.message == message
    assert problem.event_id == MANIFEST_PUSH["id"]


def test_null_target_is_a_problem() -> None:
    bad = edited(MANIFEST_PUSH)
    bad["target"] = None

    (problem,) = parse_envelope(envelope(bad), REGISTRY).problems

    assert problem.message == "target: Field may not be null."


def test_field_of_wrong_type_names_the_field() -> None:
    bad = edited(MANIFEST_PUSH, target_tag=7, timestamp=1700000000)

    (problem,) = parse_envelope(envelope(bad), REGISTRY).problems

    assert problem.message == "target.tag: Not a valid string.; timestamp: Not a valid string."


def test_event_that_is_not_an_object_is_a_problem() -> None:
    parsed = parse_envelope(envelope("push", MANIFEST_PUSH), REGISTRY)

    (problem,) = parsed.problems
    assert (problem.index, problem.event_id) == (0, None)
    assert problem.message == "event is not a JSON object"
    assert problem.raw == b'{"events":["push"]}'  # stored so that a replay reads it as the same problem
    assert len(parsed.events) == 1
    assert [p.message for p in parse_envelope(problem.raw, REGISTRY).problems] == ["event is not a JSON object"]


@pytest.mark.parametrize(
    "target_changes",
    [
        {},  # application/octet-stream, as 2.8 sends every blob
        {"target_mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"},
        {"target_mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip"},
        {"target_mediaType": None},  # no media type, but a /blobs/ URL
    ],
)
def test_blob_events_are_dropped(target_changes: dict[str, object]) -> None:
    blob = edited(LAYER_PUSH, **target_changes)

    parsed = parse_envelope(envelope(blob), REGISTRY)

    assert (parsed.events, parsed.problems, parsed.dropped) == ((), (), 1)


def test_blob_mount_is_dropped() -> None:
    mount = edited(LAYER_PUSH, action="mount", target_fromRepository="demo/base")

    assert parse_envelope(envelope(mount), REGISTRY).dropped == 1


@pytest.mark.parametrize("repository", [None, ""])
def test_event_without_repository_is_dropped(repository: str | None) -> None:
    event = edited(MANIFEST_PUSH, target_repository=None)
    if repository is not None:
        event["target"]["repository"] = repository

    parsed = parse_envelope(envelope(event), REGISTRY)

    assert (parsed.events, parsed.problems, parsed.dropped) == ((), (), 1)


def test_empty_events_list_is_a_valid_envelope() -> None:
    parsed = parse_envelope(b'{"events": []}', REGISTRY)

    assert (parsed.events, parsed.problems, parsed.dropped) == ((), (), 0)


def test_bare_event_reads_as_one_event_envelope() -> None:
    """A dead-lettered event is stored without envelope; replay reads it back."""
    (event,) = parse_envelope(json.dumps(MANIFEST_PUSH).encode(), REGISTRY).events

    assert event.id == MANIFEST_PUSH["id"]


def test_dead_lettered_event_reads_back_as_the_same_problem() -> None:
    bad = edited(MANIFEST_PUSH, action="purge")
    (problem,) = parse_envelope(envelope(MANIFEST_PULL, bad), REGISTRY).problems

    (again,) = parse_envelope(problem.raw, REGISTRY).problems

    assert (again.index, again.message, again.raw) == (0, problem.message, problem.raw)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"events=push",
        b'{"events": [',
        b"\xff\xfe\x00garbage",
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["empty", "form", "truncated", "not-utf8", "deeply-nested"],
)
def test_non_json_body_is_an_envelope_error(body: bytes) -> None:
    with pytest.raises(EnvelopeError, match="body is not JSON"):
        parse_envelope(body, REGISTRY)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "body is not a JSON object"),
        (b'"events"', "body is not a JSON object"),
        (b'{"hello": "world"}', 'body has no "events" list'),
        (b'{"events": {"id": "e-1"}}', 'body has no "events" list'),
        (b'{"events": null}', 'body has no "events" list'),
    ],
)
def test_json_that_is_not_an_envelope_is_an_envelope_error(body: bytes, message: str) -> None:
    with pytest.raises(EnvelopeError, match=message):
        parse_envelope(body, REGISTRY)


@pytest.mark.parametrize(
    "request_changes",
    [{"method": "HEAD"}, {"useragent": "regsearch/0.1.0"}],
    ids=["head", "our-own-fetch"],
)
def test_pulls_that_are_not_someone_pulling_are_dropped(request_changes: dict[str, str]) -> None:
    pull = edited(MANIFEST_PULL, request={**MANIFEST_PULL["request"], **request_changes})
    parsed = parse_envelope(envelope(pull, MANIFEST_PULL), REGISTRY)
    assert [e.id for e in parsed.events] == [MANIFEST_PULL["id"]]
    assert parsed.dropped == 1
