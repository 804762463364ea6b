"""Parsing of registry notification envelopes into ``Event`` records.

An envelope is ``{"events": [event, ...]}`` (media types
``application/vnd.docker.distribution.events.v1+json`` from distribution 2.x,
which may batch, and ``...v2+json`` from 3.x, one event per POST). Parsing
sorts every event into exactly one of three bins:

    events    -- valid manifest events, to append to the event log
    problems  -- events that fail the schema (not an object, missing or empty
                 ``id``, unknown ``action``, missing ``target``, a field of the
                 wrong type); they go to the dead-letter log
    dropped   -- valid events the indexer has no use for: blob events,
                 events without a repository, and pulls that are not
                 someone fetching an image (HEAD requests, and the
                 indexer's own fetches, known by their User-Agent)

A body that is one bare event object (how a failed event is dead-lettered)
is read as a one-event envelope, so that dead letters can be replayed.
Only a body that is unusable as a whole raises ``EnvelopeError``. Unknown
fields are ignored at every level: 3.x adds OCI descriptor fields
(``artifactType``, ``annotations``, ``platform``) and later releases may add
more, and 2.x may leave any field out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from regsearch import USER_AGENT
from webhooks.events import Action, Event

REGISTRY_ACTIONS: tuple[str, ...] = ("push", "pull", "mount", "delete")
BLOB_MEDIA_TYPE = "application/octet-stream"
USER_AGENT_PREFIX = USER_AGENT.split("/")[0] + "/"
_LAYER_MEDIA_TYPE_PREFIXES = (
    "application/vnd.oci.image.layer.",
    "application/vnd.docker.image.rootfs.",
)


# A dead-lettered event is stored alone, without its envelope; a body with
# these keys and no "events" is read back as that one event (replay).
_BARE_EVENT_KEYS = frozenset({"id", "action", "target"})


class EnvelopeError(ValueError):
    """The body as a whole is unusable (not JSON, no events list)."""


@dataclass(frozen=True)
class EventProblem:
    """One event of an envelope that failed validation.

    ``raw`` is the event alone, re-serialised as JSON, fit for the
    dead-letter log; ``parse_envelope`` reads it back as a one-event envelope.
    """

    index: int
    event_id: str | None
    message: str
    raw: bytes


@dataclass(frozen=True)
class ParsedEnvelope:
    """Every event of one envelope, sorted: kept, failed, or dropped."""

    events: tuple[Event, ...]
    problems: tuple[EventProblem, ...]
    dropped: int


def _optional_string(data_key: str | None = None) -> fields.String:
    return fields.String(load_default=None, allow_none=True, data_key=data_key)


class _TargetSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    media_type = _optional_string("mediaType")
    digest = _optional_string()
    repository = _optional_string()
    tag = _optional_string()
    url = _optional_string()


class _ActorSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    name = _optional_string()


class _RequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    method = _optional_string()
    useragent = _optional_string()


class _EventSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, validate=validate.Length(min=1))
    action = fields.String(required=True, validate=validate.OneOf(REGISTRY_ACTIONS))
    timestamp = _optional_string()
    target = fields.Nested(_TargetSchema, required=True)
    actor = fields.Nested(_ActorSchema, load_default=None, allow_none=True)
    request = fields.Nested(_RequestSchema, load_default=None, allow_none=True)


_EVENT_SCHEMA = _EventSchema()


def parse_envelope(body: bytes, registry: str) -> ParsedEnvelope:
    """Sort the events of ``body`` into events, problems and dropped ones.

    ``registry`` names the registry that sent the body (from the receiver's
    configuration, never from the body) and goes into every ``Event``.
    Raises ``EnvelopeError`` when ``body`` is not a JSON object with an
    ``events`` list.
    """
    events: list[Event] = []
    problems: list[EventProblem] = []
    dropped = 0
    for index, raw in enumerate(_raw_events(body)):
        try:
            event = _event(raw, registry)
        except ValidationError as err:
            problems.append(_problem(index, raw, _describe(err.messages)))
            continue
        if event is None:
            dropped += 1
        else:
            events.append(event)
    return ParsedEnvelope(tuple(events), tuple(problems), dropped)


def _raw_events(body: bytes) -> list[object]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as err:
        raise EnvelopeError(f"body is not JSON: {err}") from err
    if not isinstance(document, dict):
        raise EnvelopeError("body is not a JSON object")
    if "events" not in document and _BARE_EVENT_KEYS & document.keys():
        return [document]
    events = document.get("events")
    if not isinstance(events, list):
        raise EnvelopeError('body has no "events" list')
    return events


def _event(raw: object, registry: str) -> Event | None:
    """The ``Event`` for ``raw``; ``None`` when it is valid but of no use.

    Raises ``ValidationError`` when ``raw`` fails the schema.
    """
    if not isinstance(raw, dict):
        raise ValidationError("event is not a JSON object")
    data = cast(dict[str, Any], _EVENT_SCHEMA.load(raw))
    target: Mapping[str, str | None] = data["target"]
    if not target["repository"] or _is_blob(target) or _is_uncounted_pull(data):
        return None
    return Event(
        id=data["id"],
        action=cast(Action, data["action"]),
        registry=registry,
        repository=target["repository"],
        tag=target["tag"],
        digest=target["digest"],
        media_type=target["media_type"],
        timestamp=data["timestamp"],
        actor=(data["actor"] or {}).get("name") or None,
    )


def _is_blob(target: Mapping[str, str | None]) -> bool:
    """Whether ``target`` is a blob (layer or config), not a manifest."""
    media_type = target["media_type"]
    if media_type:
        return media_type == BLOB_MEDIA_TYPE or media_type.startswith(
            _LAYER_MEDIA_TYPE_PREFIXES
        )
    return "/blobs/" in (target["url"] or "")


def _is_uncounted_pull(data: Mapping[str, Any]) -> bool:
    """Whether a pull is a HEAD or one of our own fetches, which must not count."""
    request = data["request"] or {}
    agent = request.get("useragent") or ""
    return data["action"] == "pull" and (request.get("method") == "HEAD" or agent.startswith(USER_AGENT_PREFIX))


def _problem(index: int, raw: object, message: str) -> EventProblem:
    event_id = raw.get("id") if isinstance(raw, dict) else None
    # Stored bare when it reads back as a bare event; anything else (a number, an object without
    # id/action/target or with an "events" key) in a one-event envelope, so replay reads it too.
    bare = isinstance(raw, dict) and "events" not in raw and bool(_BARE_EVENT_KEYS & raw.keys())
    return EventProblem(
        index=index,
        event_id=event_id if isinstance(event_id, str) and event_id else None,
        message=message,
        raw=json.dumps(raw if bare else {"events": [raw]}, separators=(",", ":")).encode(),
    )


def _describe(messages: object, path: str = "") -> str:
    """One line naming each failed field of marshmallow's error messages."""
    if isinstance(messages, dict):
        return "; ".join(
            _describe(messages[key], _field_path(path, str(key)))
            for key in sorted(messages, key=str)
        )
    if isinstance(messages, list):
        return "; ".join(_describe(message, path) for message in messages)
    return f"{path}: {messages}" if path else str(messages)


def _field_path(parent: str, key: str) -> str:
    if key == "_schema":  # marshmallow's key for errors of the object itself
        return parent
    return f"{parent}.{key}" if parent else key
