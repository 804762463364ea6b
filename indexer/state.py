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

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

from indexer.documents import TagDocument, document_from_dict, document_to_dict
from indexer.popularity import PullHistory
from regsearch.logs import Log, Message, behind, next_positions

RepoKey = tuple[str, str]  # (registry, repository)


@dataclass(frozen=True)
class StateUpdate:
    """The effect of one batch on the state, applied atomically."""

    upserts: tuple[TagDocument, ...] = ()
    deletes: tuple[tuple[str, str, str], ...] = ()  # (registry, repository, tag)
    pulls: Mapping[RepoKey, int] = field(default_factory=dict)
    pulls_through: Mapping[RepoKey, int] = field(default_factory=dict)
    # The same pulls by UTC day and by tag (indexer.popularity), counted under the same guard.
    pull_days: Mapping[RepoKey, Mapping[str, int]] = field(default_factory=dict)
    tag_pulls: Mapping[RepoKey, Mapping[str, int]] = field(default_factory=dict)
    # Days before this one (YYYY-MM-DD) are dropped from every repository's history.
    keep_from: str = ""


class IndexerState(ABC):
    """The indexer's memory; one writer (the indexer of these repositories)."""

    @abstractmethod
    def tags(self, registry: str, repository: str) -> dict[str, TagDocument]:
        """The tag documents last indexed for a repository, by tag."""

    @abstractmethod
    def pulls(self, registry: str, repository: str) -> int:
        """Pulls counted so far for a repository."""

    @abstractmethod
    def pull_history(self, registry: str, repository: str) -> PullHistory:
        """A repository's pulls by day (the last 30 kept) and by tag."""

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

    def refresh(self) -> None:
        """Take in what other indexers wrote; called before each batch."""

    def close(self) -> None:
        """Release resources."""


@dataclass
class RepositoryState:
    """What the indexer keeps of one repository."""

    tags: dict[str, TagDocument] = field(default_factory=dict)
    pulls: int = 0
    pulls_through: int = 0
    history: PullHistory = field(default_factory=PullHistory)

    def to_json(self) -> bytes:
        tags = {tag: document_to_dict(doc) for tag, doc in self.tags.items()}
        return json.dumps({"tags": tags, "pulls": self.pulls, "pulls_through": self.pulls_through,
                           "days": dict(self.history.days), "tag_pulls": dict(self.history.tags)}).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> RepositoryState:
        data = json.loads(raw)
        tags = {tag: document_from_dict(doc) for tag, doc in data["tags"].items()}
        history = PullHistory(data.get("days", {}), data.get("tag_pulls", {}))  # absent before popularity
        return cls({t: d for t, d in tags.items() if isinstance(d, TagDocument)}, data["pulls"], data["pulls_through"],
                   history)


class MemoryState(IndexerState):
    """State in a dict, for unit tests and as the cache of ``LogState``."""

    def __init__(self) -> None:
        self._repos: dict[RepoKey, RepositoryState] = {}

    def tags(self, registry: str, repository: str) -> dict[str, TagDocument]:
        repo = self._repos.get((registry, repository))
        return dict(repo.tags) if repo else {}

    def pulls(self, registry: str, repository: str) -> int:
        repo = self._repos.get((registry, repository))
        return repo.pulls if repo else 0

    def pulls_through(self, registry: str, repository: str) -> int:
        repo = self._repos.get((registry, repository))
        return repo.pulls_through if repo else 0

    def pull_history(self, registry: str, repository: str) -> PullHistory:
        repo = self._repos.get((registry, repository))
        return repo.history if repo else PullHistory()

    def repositories(self, registry: str) -> set[str]:
        return {repo for (reg, repo), state in self._repos.items() if reg == registry and state.tags}

    def apply(self, update: StateUpdate) -> None:
        self._repos.update(self.updated(update))

    def updated(self, update: StateUpdate) -> dict[RepoKey, RepositoryState]:
        """The repositories ``update`` touches, as they are after it; the state is unchanged."""
        changed: dict[RepoKey, RepositoryState] = {}

        def touch(key: RepoKey) -> RepositoryState:
            if key not in changed:
                old = self._repos.get(key, RepositoryState())
                changed[key] = RepositoryState(dict(old.tags), old.pulls, old.pulls_through, old.history)
            return changed[key]

        for doc in update.upserts:
            touch((doc.registry, doc.repository)).tags[doc.tag] = doc
        for registry, repository, tag in update.deletes:
            repo = touch((registry, repository))
            repo.tags.pop(tag, None)
            repo.history = PullHistory(repo.history.days, {t: n for t, n in repo.history.tags.items() if t != tag})
        for key, count in update.pulls.items():
            through = update.pulls_through.get(key, 0)
            if through > self.pulls_through(*key):
                repo = touch(key)
                repo.pulls, repo.pulls_through = repo.pulls + count, through
                repo.history = repo.history.plus(update.pull_days.get(key, {}), update.tag_pulls.get(key, {}))
        if update.keep_from:
            for key, repo in changed.items():
                repo.history = PullHistory({d: n for d, n in repo.history.days.items() if d >= update.keep_from},
                                           repo.history.tags)
        return changed


class LogState(MemoryState):
    """State kept in a compacted log keyed by repository, cached in memory.

    It survives restarts and follows a repository from one indexer to
    another when a rebalance moves its partition: ``refresh()`` (before each
    batch) reads what other indexers wrote since, and an indexer commits its
    event-log positions only after its state records are durable.
    """

    def __init__(self, log: Log) -> None:
        super().__init__()
        self._log = log
        self._reader = log.reader({})
        self._positions: dict[int, int] = {}
        self.refresh()

    def refresh(self) -> None:
        while behind(self._positions, self._log.end_offsets()):
            records = self._reader.poll(1000, 1.0)
            for record in records:
                registry, _, repository = record.key.partition("/")
                key = (registry, repository)
                if record.value is None:
                    self._repos.pop(key, None)
                else:
                    self._repos[key] = RepositoryState.from_json(record.value)
            self._positions = next_positions(records, self._positions)

    def apply(self, update: StateUpdate) -> None:
        changed = self.updated(update)
        self._log.append([Message(f"{reg}/{repo}", state.to_json()) for (reg, repo), state in changed.items()])
        self._repos.update(changed)

    def close(self) -> None:
        self._reader.close()
