"""``regsearch dead-letters``: show what could not be used, or feed it back in."""

from __future__ import annotations

import sys

from regsearch.config import Settings
from regsearch.logs import DeadLetter, DeadLetters, Log, Message
from regsearch.logs.sqlite import SqliteDeadLetters, SqliteLog
from webhooks.events import Event
from webhooks.receiver import DEAD_LETTER_SOURCE, receive, registry_of_source


def show(entry: DeadLetter) -> str:
    raw = entry.raw.decode("utf-8", "replace")
    return f"#{entry.id} {entry.time} [{entry.source}] {entry.reason}\n  {raw}\n"


def replay(entry: DeadLetter, events: Log, dead_letters: DeadLetters, first_registry: str) -> None:
    """Feed one dead letter back; it lands in the dead letters again if still unusable.

    A webhook dead letter goes back to the registry that sent it (one stored
    before there were several registries, to the first). An indexer dead
    letter is appended without its dedupe id, which the log has already seen.
    """
    if entry.source.split(" ")[0] == DEAD_LETTER_SOURCE:
        receive(entry.raw, events, dead_letters, registry_of_source(entry.source) or first_registry)
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
    for entry in entries:
        replay(entry, events, dead_letters, settings.registry.address)
        dead_letters.remove([entry.id])
    print(f"replayed {len(entries)} dead letter(s)")
    return 0
