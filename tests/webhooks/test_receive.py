"""``receive``: the receiver core, without HTTP (also used to replay dead letters)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from regsearch.deadletters import replay
from regsearch.logs.abstract import DeadLetter, LogUnavailable
from regsearch.logs.sqlite import SqliteDeadLetters, SqliteLog
from webhooks.events import Event
from webhooks.receiver import receive

from tests.webhooks.fakes import MemoryDeadLetters, MemoryLog
from tests.webhooks.samples import (
    DELETE_TAG,
    LAYER_PUSH,
    MANIFEST_PULL,
    MANIFEST_PUSH,
    REGISTRY,
    edited,
    envelope,
)


def test_valid_events_are_appended_in_one_call(
    event_log: MemoryLog, dead_letters: MemoryDeadLetters
) -> None:
    body = envelope(LAYER_PUSH, MANIFEST_PUSH, MANIFEST_PULL, DELETE_TAG)

    answer = receive(body, event_log, dead_letters, REGISTRY)

    assert answer == {"accepted": 3, "duplicates": 0, "dropped": 1, "dead_lettered": 0,
                      "errors": []}
    assert event_log.append_calls == 1
    assert {r.key for r in event_log.records} == {f"{REGISTRY}/demo/app"}
    events = [Event.from_json(r.value or b"") for r in event_log.records]
    assert [(e.id, e.action) for e in events] == [
        (MANIFEST_PUSH["id"], "push"), (MANIFEST_PULL["id"], "pull"), (DELETE_TAG["id"], "delete")
    ]
    assert dead_letters.entries == []


def test_redelivered_events_count_as_duplicates(
    event_log: MemoryLog, dead_letters: MemoryDeadLetters
) -> None:
    receive(envelope(MANIFEST_PUSH), event_log, dead_letters, REGISTRY)

    answer = receive(envelope(MANIFEST_PUSH, MANIFEST_PULL), event_log, dead_letters, REGISTRY)

    assert (answer["accepted"], answer["duplicates"]) == (1, 1)
    assert len(event_log.records) == 2


def test_bad_event_is_dead_lettered_alone_and_the_rest_goes_on(
    event_log: MemoryLog, dead_letters: MemoryDeadLetters
) -> None:
    bad = edited(MANIFEST_PULL, action="purge")

    answer = receive(envelope(MANIFEST_PUSH, bad), event_log, dead_letters, REGISTRY)

    assert answer["accepted"] == 1
    assert answer["dead_lettered"] == 1
    (error,) = answer["errors"]
    assert (error["index"], error["id"]) == (1, MANIFEST_PULL["id"])
    assert error["message"].startswith("action: ")
    (letter,) = dead_letters.entries
    assert letter.source == f"webhook {REGISTRY}"
    assert json.loads(letter.raw) == bad
    assert letter.reason.startswith(f"event 1 (id {MANIFEST_PULL['id']}): action: ")


def test_unparseable_body_is_dead_lettered_whole(
    event_log: MemoryLog, dead_letters: MemoryDeadLetters
) -> None:
    body = b'{"events": [{"id": "e-1",'

    answer = receive(body, event_log, dead_letters, REGISTRY)

    assert answer["accepted"] == 0
    assert answer["dead_lettered"] == 1
    assert answer["errors"][0]["index"] is None
    assert answer["errors"][0]["message"].startswith("body is not JSON")
    (letter,) = dead_letters.entries
    assert (letter.source, letter.raw) == (f"webhook {REGISTRY}", body)
    assert letter.reason.startswith("envelope: body is not JSON")
    assert event_log.append_calls == 0


def test_replaying_a_dead_lettered_event_appends_it(
    event_log: MemoryLog, dead_letters: MemoryDeadLetters
) -> None:
    receive(envelope(edited(MANIFEST_PUSH, target=5)), event_log, dead_letters, REGISTRY)
    (letter,) = dead_letters.entries
    repaired = json.loads(letter.raw) | {"target": MANIFEST_PUSH["target"]}

    answer = receive(json.dumps(repaired).encode(), event_log, MemoryDeadLetters(), REGISTRY)

    assert answer["accepted"] == 1


def test_unavailable_log_raises_and_dead_letters_nothing(
    event_log: MemoryLog, dead_letters: MemoryDeadLetters
) -> None:
    event_log.unavailable = True

    with pytest.raises(LogUnavailable):
        receive(envelope(MANIFEST_PUSH, edited(MANIFEST_PULL, id="")), event_log, dead_letters,
                REGISTRY)

    assert dead_letters.entries == []


@pytest.mark.parametrize("failure", [LogUnavailable("down"), OSError("disk full")])
def test_failing_dead_letters_raise_log_unavailable(
    event_log: MemoryLog, dead_letters: MemoryDeadLetters, failure: Exception
) -> None:
    dead_letters.failure = failure

    with pytest.raises(LogUnavailable):
        receive(b"not json", event_log, dead_letters, REGISTRY)


def test_only_dropped_events_need_no_append(
    event_log: MemoryLog, dead_letters: MemoryDeadLetters
) -> None:
    answer = receive(envelope(LAYER_PUSH), event_log, dead_letters, REGISTRY)

    assert answer["dropped"] == 1
    assert event_log.append_calls == 0


def test_redelivery_after_restart_is_a_duplicate_on_the_sqlite_log(tmp_path: Path) -> None:
    body = envelope(MANIFEST_PUSH, edited(MANIFEST_PULL, action="purge"))
    first_log = SqliteLog(tmp_path / "events.db")
    first_letters = SqliteDeadLetters(tmp_path / "dead-letters.db")
    first = receive(body, first_log, first_letters, REGISTRY)
    first_log.close()
    first_letters.close()

    event_log = SqliteLog(tmp_path / "events.db")
    dead_letters = SqliteDeadLetters(tmp_path / "dead-letters.db")
    again = receive(body, event_log, dead_letters, REGISTRY)

    assert (first["accepted"], again["accepted"], again["duplicates"]) == (1, 0, 1)
    assert [r.key for r in event_log.read(0, 10)] == [f"{REGISTRY}/demo/app"]
    assert [json.loads(d.raw)["action"] for d in dead_letters.list()] == ["purge", "purge"]


@pytest.mark.parametrize(("source", "registry"), [("webhook mirror.example:5000", "mirror.example:5000"),
                                                  ("webhook", REGISTRY)])
def test_a_replayed_webhook_dead_letter_goes_back_to_the_registry_that_sent_it(
    event_log: MemoryLog, dead_letters: MemoryDeadLetters, source: str, registry: str
) -> None:
    letter = DeadLetter(1, "2026-11-29T00:00:00Z", source, "cut short", envelope(MANIFEST_PUSH))
    replay(letter, event_log, dead_letters, first_registry=REGISTRY)
    assert [r.key for r in event_log.records] == [f"{registry}/demo/app"]
