"""What the indexer remembers between batches: current tag documents and pulls.

The worker compares a tag's digest in the registry with the one it last
indexed, so unchanged tags cost one HEAD, and it aggregates repository
documents from the tag documents kept here. State is written after the
documents it describes are durable, so a crash between the two replays work
instead of skipping it. Pull counts carry the event-log offset they are
counted through (per repository, whose events all sit in one partition), so
a replayed pull event is not counted twice.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

from indexer.documents import TagDocument

RepoKey = tuple[str, str]  # (registry, repository)


@dataclass(frozen=True)
class StateUpdate:
    """The effect of one batch on the state, applied atomically."""

    upserts: tuple[TagDocument, ...] = ()
    deletes: tuple[tuple[str, str, str], ...] = ()  # (registry, repository, tag)
    pulls: Mapping[RepoKey, int] = field(default_factory=dict)
    pulls_through: Mapping[RepoKey, int] = field(default_factory=dict)


class IndexerState(ABC):
    """The indexer's memory; one writer (the indexer of these repositories)."""

    @abstractmethod
    def tags(self, registry: str, repository: str) -> dict[str, TagDocument]:
        """The tag documents last indexed for a repository, by tag."""

    @abstractmethod
    def pulls(self, registry: str, repository: str) -> int:
        """Pulls counted so far for a repository."""

    @abstractmethod
    def repositories(self, registry: str) -> set[str]:
        """Repositories of ``registry`` that have at least one indexed tag."""

    @abstractmethod
    def pulls_through(self, registry: str, repository: str) -> int:
        """The event-log offset before which this repository's pulls are counted."""

    @abstractmethod
    def apply(self, update: StateUpdate) -> None:
        """Apply ``update`` in one durable step.

        A repository's pulls are added only when its ``pulls_through`` grows:
        applying the same batch twice counts once.
        """

    def close(self) -> None:
        """Release resources."""


class MemoryState(IndexerState):
    """State in a dict, for unit tests and throwaway runs."""

    def __init__(self) -> None:
        self._tags: dict[RepoKey, dict[str, TagDocument]] = {}
        self._pulls: dict[RepoKey, int] = {}
        self._through: dict[RepoKey, int] = {}

    def tags(self, registry: str, repository: str) -> dict[str, TagDocument]:
        return dict(self._tags.get((registry, repository), {}))

    def pulls(self, registry: str, repository: str) -> int:
        return self._pulls.get((registry, repository), 0)

    def repositories(self, registry: str) -> set[str]:
        return {repo for (reg, repo), tags in self._tags.items() if reg == registry and tags}

    def pulls_through(self, registry: str, repository: str) -> int:
        return self._through.get((registry, repository), 0)

    def apply(self, update: StateUpdate) -> None:
        for doc in update.upserts:
            self._tags.setdefault((doc.registry, doc.repository), {})[doc.tag] = doc
        for registry, repository, tag in update.deletes:
            self._tags.get((registry, repository), {}).pop(tag, None)
        for key, count in update.pulls.items():
            through = update.pulls_through.get(key, 0)
            if through > self._through.get(key, 0):
                self._pulls[key] = self._pulls.get(key, 0) + count
                self._through[key] = through
