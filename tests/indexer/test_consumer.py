from __future__ import annotations

import threading
from pathlib import Path

import pytest

from indexer.consumer import GROUP, PULL_DOCUMENT_DELAY_S, IndexerConsumer
from indexer.documents import RepositoryDocument, document_from_json, repository_doc_id, tag_doc_id
from indexer.policies import BatchPolicy, RetryPolicy
from indexer.registry import TransientError
from indexer.state import IndexerState
from indexer.worker import Worker
from regsearch.logs import Consumer, LogUnavailable, Message, Positions, Record
from regsearch.logs.sqlite import SqliteDeadLetters, SqliteLog
from regsearch.state import SqliteIndexerState
from tests.indexer.fake_registry import FakeRegistry, image_config
from webhooks.events import Event

REG = "registry.test:5000"
FAST = RetryPolicy(initial_s=0.001, max_s=0.005)


class Pipeline:
    def __init__(self, tmp: Path, registry: FakeRegistry) -> None:
        self.events = SqliteLog(tmp / "events.sqlite3")
        self.documents = SqliteLog(tmp / "documents.sqlite3", compacted=True)
        self.dead = SqliteDeadLetters(tmp / "dead.sqlite3")
        self.state: IndexerState = SqliteIndexerState(tmp / "state.sqlite3")
        self.registry = registry
        self.now = 0.0  # the consumer's clock
        self.consumer = self.new_consumer()
        self.member = self.events.consumer(GROUP)

    def new_consumer(self) -> IndexerConsumer:
        """A consumer as a restarted process has it: nothing held in memory."""
        return IndexerConsumer(
            self.events, self.documents, self.dead, self.state, Worker({REG: self.registry}, self.state),
            batch=BatchPolicy(max_delay_s=0, poll_timeout_s=0.01), retry=FAST, clock=lambda: self.now,
        )

    def run_once(self) -> int:
        return self.consumer.process_batch(self.member, threading.Event())

    def push(self, *events: Event) -> None:
        self.events.append([Message(e.key, e.to_json(), e.id) for e in events])

    def docs(self) -> dict[str, object]:
        return {r.key: r.value and document_from_json(r.value) for r in self.documents.read(0, 1000)}

    def pulls_indexed(self) -> object:
        doc = self.docs()[repository_doc_id(REG, "team/app")]
        assert isinstance(doc, RepositoryDocument)
        return doc.pulls

    def writes(self) -> int:
        """Documents appended so far (each append takes an offset, kept or compacted later)."""
        return sum(self.documents.end_offsets().values())


@pytest.fixture
def registry() -> FakeRegistry:
    reg = FakeRegistry()
    reg.push_image("team/app", tag="1.0", config=image_config())
    return reg


def test_batch_writes_documents_then_commits(tmp_path: Path, registry: FakeRegistry) -> None:
    p = Pipeline(tmp_path, registry)
    p.push(Event("e1", "push", REG, "team/app", tag="1.0"))
    assert p.run_once() == 1
    assert repository_doc_id(REG, "team/app") in p.docs()
    assert p.events.committed(GROUP) == p.events.end_offsets()
    assert p.run_once() == 0


def test_registry_outage_is_retried_not_dropped(tmp_path: Path, registry: FakeRegistry) -> None:
    p = Pipeline(tmp_path, registry)
    p.push(Event("e1", "push", REG, "team/app", tag="1.0"))
    failures = iter([TransientError("503"), TransientError("timeout")])
    original = registry.head_manifest

    def flaky(repository: str, reference: str) -> str:
        error = next(failures, None)
        if error:
            raise error
        return original(repository, reference)

    registry.head_manifest = flaky  # type: ignore[method-assign]
    assert p.run_once() == 1
    assert repository_doc_id(REG, "team/app") in p.docs()


def test_undecodable_record_is_dead_lettered(tmp_path: Path, registry: FakeRegistry) -> None:
    p = Pipeline(tmp_path, registry)
    p.events.append([Message("x/y", b"not an event")])
    p.push(Event("e1", "push", REG, "team/app", tag="1.0"))
    assert p.run_once() == 2
    [letter] = p.dead.list()
    assert letter.source == "indexer" and letter.raw == b"not an event"
    assert "undecodable" in letter.reason
    assert repository_doc_id(REG, "team/app") in p.docs()


def test_replayed_pulls_are_counted_once(tmp_path: Path, registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    p = Pipeline(tmp_path, registry)
    p.push(Event("e1", "push", REG, "team/app", tag="1.0"))
    p.run_once()
    p.push(Event("p1", "pull", REG, "team/app", tag="1.0"), Event("p2", "pull", REG, "team/app", tag="1.0"))
    commits = iter([LogUnavailable("disk full")])
    real_commit = p.events.commit_group

    def failing_commit(group: str, positions: dict[int, int]) -> None:
        error = next(commits, None)
        if error:
            raise error
        real_commit(group, positions)

    monkeypatch.setattr(p.events, "commit_group", failing_commit)
    p.run_once()  # state applied, commit failed, retried
    assert p.state.pulls(REG, "team/app") == 2
    # as if the process died before committing: a new member starts one pull back
    p.events.commit_group(GROUP, {0: p.events.committed(GROUP)[0] - 1})
    p.member = p.events.consumer(GROUP)
    p.run_once()
    assert p.state.pulls(REG, "team/app") == 2


class Died(BaseException):
    """The indexer process ending at this point (kill -9): nothing after it runs."""


def test_an_indexer_killed_before_its_state_leaves_no_document_behind(
    tmp_path: Path, registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = Pipeline(tmp_path, registry)
    digest = registry.tag_map["team/app"]["1.0"]
    p.push(Event("e1", "push", REG, "team/app", tag="1.0", digest=digest))

    def die(update: object) -> None:
        raise Died

    with monkeypatch.context() as patch:
        patch.setattr(p.state, "apply", die)
        with pytest.raises(Died):
            p.run_once()
    assert p.docs()[repository_doc_id(REG, "team/app")] is not None, "the documents were written"
    del registry.tag_map["team/app"]["1.0"]
    p.push(Event("e2", "delete", REG, "team/app", digest=digest))
    p.member = p.events.consumer(GROUP)  # another member takes over from the last commit
    while p.run_once():
        pass
    assert p.docs() == {tag_doc_id(REG, "team/app", "1.0"): None, repository_doc_id(REG, "team/app"): None}


def pull(n: int) -> Event:
    return Event(f"p{n}", "pull", REG, "team/app", tag="1.0")


def test_pulls_within_the_delay_rewrite_their_repository_once(tmp_path: Path, registry: FakeRegistry) -> None:
    p = Pipeline(tmp_path, registry)
    p.push(Event("e1", "push", REG, "team/app", tag="1.0"))
    p.run_once()
    writes, pushed_through = p.writes(), p.events.committed(GROUP)[0]
    for n in range(3):
        p.now = n * 0.5
        p.push(pull(n))
        p.run_once()
    assert p.writes() == writes, "pull counts alone are held back"
    assert p.state.pulls(REG, "team/app") == 3, "but counted at once"
    assert p.events.committed(GROUP)[0] == pushed_through, "the commit stops before the first held pull"
    p.now = PULL_DOCUMENT_DELAY_S
    p.push(Event("other", "pull", REG, "team/other", tag="1"))
    p.run_once()
    assert p.pulls_indexed() == 3
    assert p.writes() == writes + 1, "team/app's document once; team/other's pull is held in turn"


def test_held_pull_counts_are_written_when_the_log_goes_idle(tmp_path: Path, registry: FakeRegistry) -> None:
    p = Pipeline(tmp_path, registry)
    p.push(Event("e1", "push", REG, "team/app", tag="1.0"), pull(1), pull(2))
    p.run_once()
    p.push(pull(3))
    p.run_once()
    assert p.pulls_indexed() == 2
    assert p.run_once() == 0
    assert p.pulls_indexed() == 3
    assert p.events.committed(GROUP) == p.events.end_offsets()


def test_a_crash_while_pull_counts_are_held_writes_them_on_replay_counted_once(
    tmp_path: Path, registry: FakeRegistry
) -> None:
    p = Pipeline(tmp_path, registry)
    p.push(Event("e1", "push", REG, "team/app", tag="1.0"))
    p.run_once()
    p.push(pull(1), pull(2))
    p.run_once()
    assert p.pulls_indexed() == 0
    p.consumer, p.member = p.new_consumer(), p.events.consumer(GROUP)  # kill -9: what was held is gone
    assert p.run_once() == 2, "the pulls are read again"
    assert p.run_once() == 0
    assert p.pulls_indexed() == 2
    assert p.state.pulls(REG, "team/app") == 2


def test_a_tag_change_writes_the_held_counts_at_once_and_drops_the_older_document(
    tmp_path: Path, registry: FakeRegistry
) -> None:
    p = Pipeline(tmp_path, registry)
    p.push(Event("e1", "push", REG, "team/app", tag="1.0"))
    p.run_once()
    p.push(pull(1))
    p.run_once()
    registry.push_image("team/app", tag="2.0", config=image_config(), layer_seed="two")
    p.push(Event("e2", "push", REG, "team/app", tag="2.0"))
    p.run_once()
    doc = p.docs()[repository_doc_id(REG, "team/app")]
    assert isinstance(doc, RepositoryDocument) and doc.pulls == 1 and set(doc.tags) == {"1.0", "2.0"}
    writes = p.writes()
    p.now = 10 * PULL_DOCUMENT_DELAY_S
    assert p.run_once() == 0
    assert p.writes() == writes, "nothing older is written after it"
    assert p.events.committed(GROUP) == p.events.end_offsets()


class Revoking(Consumer):
    """A group member that loses every partition after its next poll (a rebalance)."""

    def __init__(self, member: Consumer) -> None:
        self.member, self.owned = member, {0}

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        return self.member.poll(max_records, timeout_s)

    def commit(self, positions: Positions) -> None:
        self.member.commit({p: at for p, at in positions.items() if p in self.owned})

    def partitions(self) -> set[int]:
        return self.owned


def test_a_member_that_lost_the_partition_drops_what_it_held(tmp_path: Path, registry: FakeRegistry) -> None:
    p = Pipeline(tmp_path, registry)
    p.push(Event("e1", "push", REG, "team/app", tag="1.0"))
    p.run_once()
    p.member = Revoking(p.member)
    p.push(pull(1))
    p.run_once()
    p.member.owned = set()  # type: ignore[attr-defined]
    writes = p.writes()
    p.now = 10 * PULL_DOCUMENT_DELAY_S
    assert p.run_once() == 0
    assert p.writes() == writes, "the partition's next owner writes it, from a newer state"


def test_a_one_shot_drain_ends_with_the_pull_counts_written(tmp_path: Path, registry: FakeRegistry) -> None:
    p = Pipeline(tmp_path, registry)
    p.push(Event("e1", "push", REG, "team/app", tag="1.0"), pull(1), pull(2))
    p.consumer.drain(p.events.end_offsets())
    assert p.pulls_indexed() == 2
    assert p.events.committed(GROUP) == p.events.end_offsets()
