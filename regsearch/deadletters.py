"""``regsearch dead-letters``: show what could not be used, or feed it back in."""

from __future__ import annotations

import sys

from regsearch.config import Settings
from regsearch.resources import registry_client
from regsearch.logs import DeadLetter, DeadLetters, Log, Message
from regsearch.logs.sqlite import SqliteDeadLetters, SqliteLog
from webhooks.events import Event
from webhooks.receiver import receive


def show(entry: DeadLetter) -> str:
    raw = entry.raw.decode("utf-8", "replace")
    return f"#{entry.id} {entry.time} [{entry.source}] {entry.reason}\n  {raw}\n"


def replay(entry: DeadLetter, events: Log, dead_letters: DeadLetters, registry: str) -> None:
    """Feed one dead letter back; it lands in the dead letters again if still unusable.

    An indexer dead letter is appended without its dedupe id, which the log
    has already seen.
    """
    if entry.source == "webhook":
        receive(entry.raw, events, dead_letters, registry)
    else:
        event = Event.from_json(entry.raw)
        events.append([Message(event.key, entry.raw)])


def dead_letters_command(settings: Settings, *, replay_all: bool) -> int:
    data = settings.data_dir
    dead_letters = SqliteDeadLetters(data / "deadletters.sqlite3")
    entries = dead_letters.list()
    if not replay_all:
        sys.stdout.writelines(show(e) for e in entries)
        print(f"{len(entries)} dead letter(s)")
        return 0
    events = SqliteLog(data / "events.sqlite3")
    registry = registry_client(settings).name
    for entry in entries:
        replay(entry, events, dead_letters, registry)
        dead_letters.remove([entry.id])
    print(f"replayed {len(entries)} dead letter(s)")
    return 0
