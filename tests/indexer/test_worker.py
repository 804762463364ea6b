from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from indexer.documents import RepositoryDocument, TagDocument, repository_doc_id, tag_doc_id
from indexer.registry import InvalidContent, TransientError
from indexer.signatures import signature_tag
from indexer.state import MemoryState
from indexer.worker import BatchResult, Worker
from tests.indexer.fake_registry import FakeRegistry, image_config
from webhooks.events import Action, Event

REG = "registry.test:5000"
NOW = "2026-11-28T12:00:00Z"


def event(action: Action, repo: str = "team/app", tag: str | None = None, digest: str | None = None) -> Event:
    return Event(f"{action}-{repo}-{tag}-{digest}", action, REG, repo, tag=tag, digest=digest,
                 timestamp="2026-11-28T11:00:00Z")


@pytest.fixture
def registry() -> FakeRegistry:
    reg = FakeRegistry()
    reg.push_image("team/app", tag="1.0", config=image_config(labels={"org.opencontainers.image.title": "App"}))
    reg.push_image("team/app", tag="latest", config=image_config(architecture="arm64"), layer_seed="b")
    return reg


def run(worker: Worker, state: MemoryState, *events: Event) -> BatchResult:
    result = worker.process(list(events))
    state.apply(result.state)
    return result


def make(registry: FakeRegistry, state: MemoryState, threads: bool = False) -> Worker:
    executor = ThreadPoolExecutor(4) if threads else None
    return Worker({REG: registry}, state, executor=executor, now=lambda: NOW)


def test_push_indexes_the_tag_and_its_repository(registry: FakeRegistry) -> None:
    state = MemoryState()
    result = run(make(registry, state), state, event("push", tag="1.0"))
    ids = [doc_id for doc_id, _ in result.changes]
    assert ids == [tag_doc_id(REG, "team/app", "1.0"), repository_doc_id(REG, "team/app")]
    tag_doc, repo_doc = (doc for _, doc in result.changes)
    assert isinstance(tag_doc, TagDocument) and tag_doc.title == "App"
    assert tag_doc.pushed == "2026-11-28T11:00:00Z"
    assert isinstance(repo_doc, RepositoryDocument) and repo_doc.tags == ("1.0",)
    assert set(state.tags(REG, "team/app")) == {"1.0"}


def test_unchanged_tags_cost_a_head_at_most(registry: FakeRegistry) -> None:
    state = MemoryState()
    worker = make(registry, state)
    run(worker, state, event("push", tag="1.0"), event("push", tag="latest"))
    registry.calls.clear()
    digest = registry.tag_map["team/app"]["1.0"]
    assert run(worker, state, event("push", tag="1.0", digest=digest)).changes == ()
    assert registry.calls == [], "a push of what is indexed asks nothing"
    assert run(worker, state, event("sync")).changes == ()
    assert sorted(c[0] for c in registry.calls) == ["head_manifest", "head_manifest"]


def test_a_push_fetches_without_asking_head_first(registry: FakeRegistry) -> None:
    run(make(registry, MemoryState()), MemoryState(), event("push", tag="1.0", digest="sha256:whatever"))
    assert "head_manifest" not in [c[0] for c in registry.calls]


def test_a_push_is_indexed_before_the_registry_links_its_tag(registry: FakeRegistry) -> None:
    """The registry notifies a manifest push before it writes the tag link."""
    digest = registry.push_image("team/app", config=image_config(architecture="s390x"), layer_seed="new")
    state = MemoryState()
    result = run(make(registry, state), state, event("push", tag="2.0", digest=digest))
    tag_doc = result.changes[0][1]
    assert isinstance(tag_doc, TagDocument)
    assert (tag_doc.tag, tag_doc.digest) == ("2.0", digest)
    assert set(state.tags(REG, "team/app")) == {"2.0"}


def test_delete_by_digest_removes_every_tag_pointing_at_it(registry: FakeRegistry) -> None:
    state = MemoryState()
    worker = make(registry, state)
    run(worker, state, event("push", tag="1.0"), event("push", tag="latest"))
    digest = registry.tag_map["team/app"].pop("1.0")
    result = run(worker, state, event("delete", digest=digest))
    assert result.changes[0] == (tag_doc_id(REG, "team/app", "1.0"), None)
    repo_doc = result.changes[1][1]
    assert isinstance(repo_doc, RepositoryDocument) and repo_doc.tags == ("latest",)


def test_a_push_and_the_delete_of_its_digest_in_one_batch_leave_the_tag_deleted(registry: FakeRegistry) -> None:
    """A replay after an indexer died can bring both at once, the push already indexed: the
    delete must win, not the push's "that digest is what is indexed"."""
    state = MemoryState()
    worker = make(registry, state)
    digest = registry.tag_map["team/app"]["1.0"]
    run(worker, state, event("push", tag="1.0", digest=digest))
    del registry.tag_map["team/app"]["1.0"]
    result = run(worker, state, event("push", tag="1.0", digest=digest), event("delete", digest=digest))
    assert result.changes[0] == (tag_doc_id(REG, "team/app", "1.0"), None)
    assert "1.0" not in state.tags(REG, "team/app")
    registry.tag_map["team/app"]["1.0"] = digest
    again = run(worker, state, event("delete", digest=digest), event("push", tag="1.0", digest=digest))
    assert again.changes[0][0] == tag_doc_id(REG, "team/app", "1.0") and again.changes[0][1] is not None, (
        "pushed again after the delete: the push stands")


def test_a_tag_gone_that_the_state_never_knew_is_still_tombstoned(registry: FakeRegistry) -> None:
    """An indexer that died after writing a push's documents but before the state leaves them
    behind; the replay finds the tag deleted since, and must remove what it cannot see."""
    digest = registry.tag_map["team/app"].pop("1.0")
    del registry.tag_map["team/app"]["latest"]
    state = MemoryState()
    result = run(make(registry, state), state, event("push", tag="1.0", digest=digest), event("delete", digest=digest))
    assert result.changes == ((tag_doc_id(REG, "team/app", "1.0"), None), (repository_doc_id(REG, "team/app"), None))


def test_repository_without_tags_leaves_the_search(registry: FakeRegistry) -> None:
    state = MemoryState()
    worker = make(registry, state)
    run(worker, state, event("push", tag="1.0"), event("push", tag="latest"))
    del registry.tag_map["team/app"]
    result = run(worker, state, event("sync"))
    assert sorted(doc_id for doc_id, doc in result.changes if doc is None) == sorted(
        [tag_doc_id(REG, "team/app", "1.0"), tag_doc_id(REG, "team/app", "latest"),
         repository_doc_id(REG, "team/app")]
    )
    assert state.repositories(REG) == set()


def test_sync_fetches_only_new_and_changed_tags(registry: FakeRegistry) -> None:
    state = MemoryState()
    worker = make(registry, state, threads=True)
    run(worker, state, event("push", tag="1.0"))
    registry.push_image("team/app", tag="1.0", config=image_config(created="2026-01-01T00:00:00Z"), layer_seed="c")
    registry.calls.clear()
    result = run(worker, state, event("sync"))
    changed = {doc_id for doc_id, _ in result.changes}
    assert changed == {tag_doc_id(REG, "team/app", t) for t in ("1.0", "latest")} | {repository_doc_id(REG, "team/app")}
    assert all(doc.pushed == NOW for _, doc in result.changes if isinstance(doc, TagDocument))


def test_poison_manifest_is_dead_lettered_and_the_rest_goes_on(registry: FakeRegistry) -> None:
    registry.fail("team/app", "latest", InvalidContent("digest mismatch"))
    state = MemoryState()
    result = run(make(registry, state), state, event("sync"))
    assert [d.event.tag for d in result.dead] == ["latest"]
    assert "digest mismatch" in result.dead[0].reason
    assert tag_doc_id(REG, "team/app", "1.0") in {doc_id for doc_id, _ in result.changes}


def test_transient_errors_fail_the_whole_batch(registry: FakeRegistry) -> None:
    registry.fail("team/app", "1.0", TransientError("503"))
    with pytest.raises(TransientError):
        make(registry, MemoryState()).process([event("push", tag="1.0")])


def test_pulls_are_counted_per_repository(registry: FakeRegistry) -> None:
    state = MemoryState()
    worker = make(registry, state)
    run(worker, state, event("push", tag="1.0"))
    result = run(worker, state, event("pull", tag="1.0"), event("pull", digest="sha256:x"))
    assert dict(result.state.pulls) == {(REG, "team/app"): 2}
    repo_doc = result.changes[-1][1]
    assert isinstance(repo_doc, RepositoryDocument) and repo_doc.pulls == 2


def test_events_of_another_registry_are_dead_lettered(registry: FakeRegistry) -> None:
    other = Event("x", "push", "elsewhere:5000", "team/app", tag="1.0")
    result = make(registry, MemoryState()).process([other])
    assert result.changes == () and "unknown registry" in result.dead[0].reason


def test_each_registry_is_asked_about_its_own_events(registry: FakeRegistry) -> None:
    mirror = FakeRegistry()
    mirror.push_image("team/app", tag="1.0", config=image_config(architecture="ppc64le"))
    state = MemoryState()
    worker = Worker({REG: registry, "mirror:5000": mirror}, state, now=lambda: NOW)
    mirrored = Event("m", "push", "mirror:5000", "team/app", tag="1.0")
    result = run(worker, state, event("push", tag="1.0"), mirrored)
    tags = {doc.registry: doc for _, doc in result.changes if isinstance(doc, TagDocument)}
    assert {r: [p.architecture for p in d.platforms] for r, d in tags.items()} == {
        REG: ["amd64"], "mirror:5000": ["ppc64le"]}
    assert [c[1] for c in mirror.calls] == ["team/app"] * len(mirror.calls) and mirror.calls
    assert state.repositories("mirror:5000") == {"team/app"} and state.repositories(REG) == {"team/app"}


def test_a_sync_of_tags_not_indexed_fetches_them_without_asking_head(registry: FakeRegistry) -> None:
    state = MemoryState()
    result = run(make(registry, state), state, event("sync"))
    assert {doc_id for doc_id, _ in result.changes} == {
        tag_doc_id(REG, "team/app", "1.0"), tag_doc_id(REG, "team/app", "latest"), repository_doc_id(REG, "team/app")}
    assert "head_manifest" not in [c[0] for c in registry.calls]


def test_a_signature_tag_marks_its_tag_signed_and_unmarks_it_when_deleted(registry: FakeRegistry) -> None:
    state = MemoryState()
    worker = make(registry, state)
    run(worker, state, event("push", tag="1.0"), event("push", tag="latest"))
    digest = registry.tag_map["team/app"]["1.0"]
    signature = signature_tag(digest)
    registry.push_image("team/app", tag=signature, config=image_config(), layer_seed="sig")

    result = run(worker, state, event("push", tag=signature))
    signed = {doc.tag: doc.signed for _, doc in result.changes if isinstance(doc, TagDocument)}
    assert signed == {signature: False, "1.0": True}  # "latest" is another digest: unchanged, not re-sent
    assert state.tags(REG, "team/app")["1.0"].signed

    del registry.tag_map["team/app"][signature]
    result = run(worker, state, event("sync"))
    assert [(doc.tag, doc.signed) for _, doc in result.changes if isinstance(doc, TagDocument)] == [("1.0", False)]
    assert not state.tags(REG, "team/app")["1.0"].signed


def test_signature_tags_follow_cosigns_convention() -> None:
    assert signature_tag("sha256:4e07") == "sha256-4e07.sig"


def pull(tag: str | None, timestamp: str, number: int) -> Event:
    return Event(f"pull-{number}", "pull", REG, "team/app", tag=tag, digest=None if tag else "sha256:x",
                 timestamp=timestamp)


def test_pulls_count_per_tag_and_over_the_last_7_and_30_days(registry: FakeRegistry) -> None:
    state = MemoryState()
    worker = make(registry, state)
    run(worker, state, event("push", tag="1.0"), event("push", tag="latest"))
    pulls = [pull("latest", "2026-11-28T09:00:00Z", 1), pull("latest", "2026-11-23T09:00:00Z", 2),
             pull("1.0", "2026-11-10T09:00:00Z", 3), pull(None, "2026-10-01T09:00:00Z", 4)]
    result = worker.process(pulls, {(REG, "team/app"): 100})
    state.apply(result.state)
    [(_, repo)] = result.changes
    assert isinstance(repo, RepositoryDocument)
    assert (repo.pulls, repo.pulls_7d, repo.pulls_30d) == (4, 2, 3)  # NOW is 2026-11-28
    assert repo.tag_pulls == {"1.0": 1, "latest": 2}
    assert dict(state.pull_history(REG, "team/app").days) == {"2026-11-28": 1, "2026-11-23": 1, "2026-11-10": 1}
