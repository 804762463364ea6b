"""Property tests of the envelope parser: whatever the body, it sorts events or raises EnvelopeError.

The receiver answers a parser exception it does not expect with a 500, which
the registry retries forever and stalls behind: so no input, however odd,
may raise anything but the documented :class:`EnvelopeError`, and every
event of a usable envelope ends up kept, failed (dead-lettered) or dropped.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.webhooks.samples import CONFIG_PUSH, LAYER_PUSH, MANIFEST_PUSH, REGISTRY
from webhooks.envelope import EnvelopeError, ParsedEnvelope, parse_envelope

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30,
)
SAMPLES = (MANIFEST_PUSH, LAYER_PUSH, CONFIG_PUSH)
FIELDS = ("id", "timestamp", "action", "target", "request", "actor", "source")
TARGET_FIELDS = ("mediaType", "size", "digest", "length", "repository", "url", "tag", "references")


def parsed_or_refused(body: bytes) -> ParsedEnvelope | None:
    try:
        return parse_envelope(body, REGISTRY)
    except EnvelopeError:
        return None


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A real event with some fields (its target's too) replaced by arbitrary JSON or removed."""
    event = json.loads(json.dumps(draw(st.sampled_from(SAMPLES))))
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        if draw(st.booleans()):
            event.pop(name, None)
        else:
            event[name] = draw(JSON)
    if isinstance(event.get("target"), dict):
        for name in draw(st.lists(st.sampled_from(TARGET_FIELDS), max_size=3)):
            event["target"][name] = draw(JSON)
    return event


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_envelope_error(body: bytes) -> None:
    parsed_or_refused(body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_any_json_document_parses_or_raises_envelope_error(document: Any) -> None:
    parsed_or_refused(json.dumps(document).encode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(mutated_events(), JSON), max_size=6))
def test_every_event_is_kept_failed_or_dropped(events: list[Any]) -> None:
    parsed = parse_envelope(json.dumps({"events": events}).encode(), REGISTRY)

    assert len(parsed.events) + len(parsed.problems) + parsed.dropped == len(events)
    for problem in parsed.problems:
        assert problem.message
        replayed = parse_envelope(problem.raw, REGISTRY)  # a dead letter reads back as its one event
        assert len(replayed.events) + len(replayed.problems) + replayed.dropped == 1
    assert all(event.registry == REGISTRY for event in parsed.events)
