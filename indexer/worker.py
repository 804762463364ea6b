"""Turns a batch of events into document changes by asking the registry.

Events are hints (ARCHITECTURE.md, principle 1): a push, delete or sync names
a repository and maybe a tag or digest; the worker asks the registry what is
there *now* and writes that. So a batch can be replayed at will and events
may arrive in any order. Errors from the registry decide what happens:

    TransientError, Unauthorized -> raised: the batch is retried as a whole
    NotFound                     -> the tag (or repository) is gone: tombstone
    InvalidContent               -> that tag's event is dead-lettered; the rest go on
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Protocol

from indexer.documents import Document, TagDocument, repository_doc_id, tag_doc_id
from indexer.fetch import fetch_tag_document, map_on
from indexer.metadata import build_repository_document
from indexer.popularity import KEEP_DAYS, day_of, first_day
from indexer.registry import FetchedManifest, InvalidContent, NotFound
from indexer.signatures import with_signatures
from indexer.state import IndexerState, RepoKey, StateUpdate
from webhooks.events import Event


class RegistrySource(Protocol):
    """The part of the registry client the worker uses."""

    def tags(self, repository: str) -> list[str]: ...
    def head_manifest(self, repository: str, reference: str) -> str: ...
    def get_manifest(self, repository: str, reference: str) -> FetchedManifest: ...
    def get_blob(self, repository: str, digest: str, max_bytes: int = ...) -> bytes: ...


Change = tuple[str, Document | None]


@dataclass(frozen=True)
class DeadEvent:
    """An event the worker could not use, and why."""

    event: Event
    reason: str


@dataclass(frozen=True)
class BatchResult:
    """Document changes in order, the state update, and poison events; ``pulls_only`` names, by
    document id, the repository documents among the changes that change by their pull counts
    alone (the consumer may write those a little later, see ``indexer.consumer``)."""

    changes: tuple[Change, ...]
    state: StateUpdate
    dead: tuple[DeadEvent, ...]
    pulls_only: Mapping[str, RepoKey] = field(default_factory=dict)


@dataclass(frozen=True)
class TagHint:
    """What a push event says of a tag; empty for anything else."""

    pushed: str | None = None
    digest: str | None = None


NO_HINT = TagHint()


@dataclass
class RepositoryPlan:
    """What a batch asks of one repository."""

    full_sync: bool = False
    tags: dict[str, TagHint] = field(default_factory=dict)
    deleted_digests: set[str] = field(default_factory=set)
    pulls: int = 0
    pull_days: Counter[str] = field(default_factory=Counter)
    tag_pulls: Counter[str] = field(default_factory=Counter)
    rewrite: bool = False  # pulls counted before a crash whose document may not have been written


Unchanged = object()
TagOutcome = TagDocument | None | DeadEvent | object  # doc, gone, poison, Unchanged


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def plan_batch(events: Iterable[Event], now: str = "") -> dict[RepoKey, RepositoryPlan]:
    """Group events by repository and reduce them to what must be checked.

    A pull counts on its timestamp's UTC day (``now``'s when it has none).
    """
    plans: dict[RepoKey, RepositoryPlan] = {}
    for event in events:
        plan = plans.setdefault((event.registry, event.repository), RepositoryPlan())
        if event.action == "pull":
            plan.pulls += 1
            plan.pull_days[day_of(event.timestamp, now or utc_now())] += 1
            if event.tag is not None:
                plan.tag_pulls[event.tag] += 1
        elif event.action == "sync" and event.tag is None:
            plan.full_sync = True
        elif event.tag is not None:
            pushed = event.action == "push"
            plan.tags[event.tag] = TagHint(event.timestamp, event.digest) if pushed else NO_HINT
        elif event.action == "delete" and event.digest is not None:
            plan.deleted_digests.add(event.digest)
            for tag, hint in plan.tags.items():  # a push of what is gone since proves nothing
                if hint.digest == event.digest:
                    plan.tags[tag] = NO_HINT
    return plans


class Worker:
    """Computes what a batch of events changes; writes nothing itself.

    ``sources`` are the registries it knows, by the name events carry
    (``host:port``); events of any other registry are dead-lettered.
    """

    def __init__(
        self,
        sources: Mapping[str, RegistrySource],
        state: IndexerState,
        *,
        executor: Executor | None = None,
        now: Callable[[], str] = utc_now,
    ) -> None:
        self._sources = dict(sources)
        self._state = state
        self._executor = executor
        self._now = now

    def process(
        self, events: Sequence[Event], pulls_through: Mapping[RepoKey, int] | None = None,
        recounted: Iterable[RepoKey] = (),
    ) -> BatchResult:
        """Ask the registry about everything ``events`` mention.

        ``pulls_through`` says, per repository, the event-log offset the
        batch's pulls are counted through (see ``IndexerState.apply``).
        ``recounted`` are repositories whose pulls in the batch were counted
        before (a replay): their documents are written again from the state.

        Raises ``TransientError``/``Unauthorized`` from the registry untouched:
        nothing of the batch may be committed then.
        """
        foreign = [e for e in events if e.registry not in self._sources]
        plans = plan_batch((e for e in events if e.registry in self._sources), self._now())
        for key in recounted:
            if key[0] in self._sources:
                plans.setdefault(key, RepositoryPlan()).rewrite = True
        known = {key: self._state.tags(*key) for key in plans}
        listed = self._list_tags({k: p for k, p in plans.items() if p.full_sync})
        work = [
            (key, tag, hint)
            for key, plan in plans.items()
            for tag, hint in self._tags_to_check(plan, known[key], listed.get(key)).items()
        ]
        results = map_on(self._executor, lambda w: self._refresh_tag(w[0], w[1], w[2], known[w[0]]), work)
        outcomes: dict[RepoKey, dict[str, TagOutcome]] = {key: {} for key in plans}
        for (key, tag, _), outcome in zip(work, results):
            outcomes[key][tag] = outcome
        result = self._assemble(plans, known, listed, outcomes, pulls_through or {})
        dead = tuple(DeadEvent(e, f"unknown registry {e.registry!r}") for e in foreign)
        return replace(result, dead=result.dead + dead)

    def _list_tags(self, plans: dict[RepoKey, RepositoryPlan]) -> dict[RepoKey, list[str]]:
        def list_one(key: RepoKey) -> list[str]:
            try:
                return self._sources[key[0]].tags(key[1])
            except NotFound:
                return []

        keys = list(plans)
        return dict(zip(keys, map_on(self._executor, list_one, keys)))

    @staticmethod
    def _tags_to_check(
        plan: RepositoryPlan, known: dict[str, TagDocument], listed: list[str] | None
    ) -> dict[str, TagHint]:
        wanted = dict(plan.tags)
        for tag, doc in known.items():
            if doc.digest in plan.deleted_digests:
                wanted.setdefault(tag, NO_HINT)
        for tag in listed or ():
            wanted.setdefault(tag, NO_HINT)
        return wanted

    def _refresh_tag(self, key: RepoKey, tag: str, hint: TagHint, known: dict[str, TagDocument]) -> TagOutcome:
        """The tag as the registry holds it now.

        A push names the digest it pushed: when that is what is indexed,
        nothing is asked; otherwise the manifest is fetched by that digest
        straight away. The registry notifies before it links the tag, so
        the tag may not resolve yet; a later push or delete of the tag comes
        as a later event. A tag not indexed at all is fetched by tag (a
        backfill: HEAD would have nothing to compare with). Anything else
        asks HEAD first, since most tags did not change. Each request costs
        the registry a notification back to us.
        """
        registry, repository = key
        source = self._sources[registry]
        old = known.get(tag)
        try:
            if hint.pushed is not None or old is None:
                if old is not None and hint.digest == old.digest:
                    return Unchanged
                digest = hint.digest
            else:
                digest = source.head_manifest(repository, tag)
                if old is not None and old.digest == digest:
                    return Unchanged
            return fetch_tag_document(
                source, registry, repository, tag, pushed=hint.pushed or self._now(), known_digest=digest
            )
        except NotFound:
            return None
        except InvalidContent as exc:
            event = Event(str(uuid.uuid4()), "sync", registry, repository, tag=tag)
            return DeadEvent(event, f"{repository}:{tag}: {exc}")

    def _assemble(
        self,
        plans: dict[RepoKey, RepositoryPlan],
        known: dict[RepoKey, dict[str, TagDocument]],
        listed: dict[RepoKey, list[str]],
        outcomes: dict[RepoKey, dict[str, TagOutcome]],
        pulls_through: Mapping[RepoKey, int],
    ) -> BatchResult:
        changes: list[Change] = []
        upserts: list[TagDocument] = []
        deletes: list[tuple[str, str, str]] = []
        dead: list[DeadEvent] = []
        pulls: Counter[RepoKey] = Counter()
        pulls_only: dict[str, RepoKey] = {}
        for key, plan in plans.items():
            tags = dict(known[key])
            changed = False
            gone = set(tags) - set(listed[key]) if key in listed else set()
            for tag, outcome in outcomes[key].items():
                if isinstance(outcome, DeadEvent):
                    dead.append(outcome)
                elif isinstance(outcome, TagDocument):
                    tags[tag] = outcome
                    upserts.append(outcome)
                    changes.append((outcome.doc_id, outcome))
                    changed = True
                elif outcome is None and tag in tags:
                    gone.add(tag)
                elif outcome is None:
                    # Gone, and unknown to the state: an indexer that died between writing the
                    # documents and the state may still have left this tag's document behind.
                    changes.append((tag_doc_id(*key, tag), None))
                    changed = True
            for tag in sorted(gone):
                doc = tags.pop(tag)
                deletes.append((key[0], key[1], tag))
                changes.append((doc.doc_id, None))
                changed = True
            if changed:  # a signature tag came or went: its signed tag's flag follows
                for tag, doc in with_signatures(tags).items():
                    tags[tag] = doc
                    upserts.append(doc)
                    changes.append((doc.doc_id, doc))
            if plan.pulls:
                pulls[key] += plan.pulls
            if changed or plan.pulls or plan.rewrite:
                change = self._repository_change(key, tags, plan)
                changes.append(change)
                if not changed:
                    pulls_only[change[0]] = key
        through = {key: pulls_through.get(key, 0) for key in pulls}
        update = StateUpdate(
            tuple(upserts), tuple(deletes), dict(pulls), through,
            pull_days={key: dict(plans[key].pull_days) for key in pulls},
            tag_pulls={key: dict(plans[key].tag_pulls) for key in pulls},
            keep_from=first_day(self._today(), KEEP_DAYS),
        )
        return BatchResult(tuple(changes), update, tuple(dead), pulls_only)

    def _repository_change(self, key: RepoKey, tags: dict[str, TagDocument], plan: RepositoryPlan) -> Change:
        doc_id = repository_doc_id(*key)
        if not tags:
            return (doc_id, None)
        pulls = self._state.pulls(*key) + plan.pulls
        history = self._state.pull_history(*key).plus(plan.pull_days, plan.tag_pulls)
        today = self._today()
        ordered = [tags[t] for t in sorted(tags)]
        doc = build_repository_document(key[0], key[1], ordered, pulls)
        return (doc_id, replace(doc, pulls_7d=history.within(today, 7), pulls_30d=history.within(today, 30),
                                tag_pulls={t: n for t, n in sorted(history.tags.items()) if t in tags}))

    def _today(self) -> str:
        return day_of(self._now(), utc_now())
