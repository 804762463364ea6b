"""The endpoint registries post notifications to, and the core behind it.

What the registry gets back decides what it does next (REFERENCE.md,
"Registry notifications"): any 2xx or 3xx is delivered, anything else is
retried forever while every later event waits. So:

    202  the events are durable in the event log; poison input (a body that
         does not parse, an event that fails validation) is durable in the
         dead-letter log. The body says what happened to each event.
    401  the request is not from a registry we know (no or wrong token).
    413  the body is larger than any envelope a registry sends.
    503  the event log or the dead-letter log failed; the registry retries,
         and retries are harmless because events are deduplicated by ``id``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from flask import Blueprint, Response, jsonify, request

from regsearch.logs.abstract import DeadLetters, Log, LogUnavailable, Message
from webhooks.auth import bearer_token_matches
from webhooks.envelope import EnvelopeError, EventProblem, parse_envelope
from webhooks.events import Event
from webhooks.metrics import REQUEST_SECONDS, count_answer, count_request, observe_delays

logger = logging.getLogger(__name__)

ENVELOPE_MEDIA_TYPES: frozenset[str] = frozenset(
    {
        "application/vnd.docker.distribution.events.v1+json",
        "application/vnd.docker.distribution.events.v2+json",
        "application/json",
    }
)
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
_READ_CHUNK_BYTES = 64 * 1024
DEAD_LETTER_SOURCE = "webhook"  # then a space and the registry's host:port


@dataclass(frozen=True)
class ReceiverPolicy:
    """How the receiver for one registry behaves.

    ``registry`` names the registry in every event (the body is not trusted
    for it); ``tokens`` are the bearer tokens it may present (several, so a
    token can be rotated); bodies above ``max_body_bytes`` are refused.
    """

    registry: str
    tokens: tuple[str, ...]
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def __post_init__(self) -> None:
        if not self.registry:
            raise ValueError("ReceiverPolicy.registry must name the registry")
        if not self.tokens or not all(self.tokens):
            raise ValueError(
                "ReceiverPolicy.tokens must hold at least one non-empty token: "
                "an unauthenticated receiver lets anyone write the event log"
            )
        if self.max_body_bytes <= 0:
            raise ValueError("ReceiverPolicy.max_body_bytes must be positive")


def receive(
    body: bytes, event_log: Log, dead_letters: DeadLetters, registry: str
) -> dict[str, Any]:
    """Append the events of envelope ``body`` and dead-letter what fails.

    All valid events go to ``event_log`` in one atomic append, keyed by
    ``registry/repository`` and deduplicated by event id; then each failed
    event (or the whole body, when it does not parse) goes to
    ``dead_letters``. Returns ``{"accepted", "duplicates", "dropped",
    "dead_lettered", "errors"}``: ``accepted`` counts events new to the log,
    ``duplicates`` valid events the log already had. Raises
    ``LogUnavailable`` when either log fails; the caller should have the
    sender retry, which is safe (appends are idempotent; a retry may store a
    dead letter twice).
    """
    try:
        parsed = parse_envelope(body, registry)
    except EnvelopeError as err:
        _dead_letter(dead_letters, registry, f"envelope: {err}", body)
        return _answer(0, 0, 0, [{"index": None, "id": None, "message": str(err)}])
    appended = _append(event_log, parsed.events)
    observe_delays(e.timestamp for e in parsed.events)
    for problem in parsed.problems:
        _dead_letter(dead_letters, registry, _reason(problem), problem.raw)
    errors = [
        {"index": p.index, "id": p.event_id, "message": p.message} for p in parsed.problems
    ]
    return _answer(appended, len(parsed.events) - appended, parsed.dropped, errors)


def _answer(
    accepted: int, duplicates: int, dropped: int, errors: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "accepted": accepted,
        "duplicates": duplicates,
        "dropped": dropped,
        "dead_lettered": len(errors),
        "errors": errors,
    }


def _append(event_log: Log, events: Sequence[Event]) -> int:
    if not events:
        return 0
    messages = [Message(key=e.key, value=e.to_json(), dedupe_id=e.id) for e in events]
    return event_log.append(messages)


def _reason(problem: EventProblem) -> str:
    return f"event {problem.index} (id {problem.event_id}): {problem.message}"


def dead_letter_source(registry: str) -> str:
    """The dead-letter source of what ``registry`` sent, so that a replay knows whose it is."""
    return f"{DEAD_LETTER_SOURCE} {registry}"


def registry_of_source(source: str) -> str | None:
    """The registry of a webhook dead letter's source; None for one stored without it."""
    kind, _, registry = source.partition(" ")
    return registry or None if kind == DEAD_LETTER_SOURCE else None


def _dead_letter(dead_letters: DeadLetters, registry: str, reason: str, raw: bytes) -> None:
    logger.warning("dead-lettering notification input from %s: %s", registry, reason)
    try:
        dead_letters.add(source=dead_letter_source(registry), reason=reason, raw=raw)
    except LogUnavailable:
        raise
    except Exception as err:
        # Whatever the backend raised, the input is not durable: the registry
        # must retry (503) rather than count it as delivered.
        raise LogUnavailable(f"dead-letter log failed: {err}") from err


def notifications_blueprint(
    event_log: Log, dead_letters: DeadLetters, policies: Mapping[str, ReceiverPolicy]
) -> Blueprint:
    """A blueprint serving ``POST /notifications/<name>`` for each named registry's policy,
    and ``POST /notifications`` for the first.

    Answers 202 only once the events are durable (see the module docstring
    for every status). The body is never read past ``max_body_bytes``. A name
    no registry has is a 404: the registry sending there is misconfigured.
    """
    if not policies:
        raise ValueError("notifications_blueprint needs the policy of at least one registry")
    blueprint = Blueprint("notifications", __name__)
    first = next(iter(policies))

    # the first's name is no default of the named rule: werkzeug would
    # redirect it, and the registry takes a 3xx as delivered
    @blueprint.post("/notifications", endpoint="first")
    def first_registry() -> Response:
        return notifications(first)

    @blueprint.post("/notifications/<name>")
    def notifications(name: str) -> Response:
        policy = policies.get(name)
        if policy is None:
            logger.warning("refused notification from %s for unknown registry %r", request.remote_addr, name)
            response = _error(404, f"no registry named {name!r}; known: {', '.join(policies)}")
        else:
            with REQUEST_SECONDS.time():
                response = _respond(event_log, dead_letters, policy)
        count_request(response.status_code)
        return response

    return blueprint


def _respond(event_log: Log, dead_letters: DeadLetters, policy: ReceiverPolicy) -> Response:
    if not bearer_token_matches(request.headers.get("Authorization"), policy.tokens):
        logger.warning("refused notification from %s: no valid bearer token", request.remote_addr)
        return _error(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
    body = _bounded_body(policy.max_body_bytes)
    if body is None:
        logger.warning(
            "refused notification from %s: body over %d bytes",
            request.remote_addr,
            policy.max_body_bytes,
        )
        return _error(413, f"body larger than {policy.max_body_bytes} bytes")
    _check_media_type(request.mimetype)
    try:
        answer = receive(body, event_log, dead_letters, policy.registry)
    except LogUnavailable as err:
        logger.warning("notification not stored, asking the registry to retry: %s", err)
        return _error(503, "event log unavailable, retry later")
    count_answer(answer)
    response = jsonify(answer)
    response.status_code = 202
    return response


def _bounded_body(limit: int) -> bytes | None:
    """The request body, or ``None`` when it is over ``limit`` bytes.

    Refuses on ``Content-Length`` before reading; a body without one
    (chunked) is read only up to one byte past ``limit``.
    """
    if (request.content_length or 0) > limit:
        return None
    return _read_at_most(request.stream, limit)


def _read_at_most(stream: IO[bytes], limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(_READ_CHUNK_BYTES, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return None if size > limit else b"".join(chunks)


def _check_media_type(mimetype: str) -> None:
    if mimetype not in ENVELOPE_MEDIA_TYPES:
        logger.warning(
            "notification with Content-Type %r; parsing it as an envelope anyway", mimetype
        )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    response.headers.update(headers or {})
    return response
