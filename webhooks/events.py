"""The event record that travels on the event log.

A registry notification is reduced to what the indexer needs to know *where*
to look; the indexer then asks the registry for the truth (events are hints).
The reconciler produces the same record with action ``sync``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal, cast, get_args

Action = Literal["push", "pull", "mount", "delete", "sync"]
ACTIONS: frozenset[str] = frozenset(get_args(Action))


@dataclass(frozen=True)
class Event:
    """One thing that happened to ``registry/repository``.

    ``tag`` is set when the registry acted on a tag; ``digest`` when it acted
    on a manifest. ``sync`` events (from the reconciler) ask the indexer to
    bring the whole repository up to date and carry neither.
    """

    id: str
    action: Action
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None
    media_type: str | None = None
    timestamp: str | None = None
    actor: str | None = None

    @property
    def key(self) -> str:
        """The log key: all events of one repository share a partition."""
        return f"{self.registry}/{self.repository}"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Event:
        data = json.loads(raw)
        if data.get("action") not in ACTIONS:
            raise ValueError(f"unknown action {data.get('action')!r}")
        data["action"] = cast(Action, data["action"])
        return cls(**data)
