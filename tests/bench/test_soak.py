"""The soak's parts that need no server: the open loop, the notification mix, churn, checks, report."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from bench.images import OCI_MANIFEST, Blob
from bench.kafka_ingest import Window
from bench.open_loop import OK, OpenLoop, Record, loop_figures
from bench.soak_churn import ChurnRepository, Version
from bench.soak_consistency import IndexedRepository, PullAccount, compare
from bench.soak_report import markdown_section
from bench.soak_sampler import memory_figures
from bench.soak_traffic import NotificationMaker, NotificationMix, TaggedManifest
from webhooks.envelope import parse_envelope

REGISTRY = "127.0.0.1:5000"
DIGEST_A, DIGEST_B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def manifests(count: int) -> list[TaggedManifest]:
    return [TaggedManifest(f"team-net/app{n}", "latest", DIGEST_A, OCI_MANIFEST, 512) for n in range(count)]


def test_every_envelope_is_one_valid_event_the_receiver_keeps() -> None:
    maker = NotificationMaker(manifests(40), f"http://{REGISTRY}", NotificationMix(), seed=1)
    kinds: Counter[str] = Counter()
    for number in range(1000):
        kind, body = maker.envelope(number)
        parsed = parse_envelope(body, REGISTRY)
        assert (len(parsed.events), parsed.problems, parsed.dropped) == (1, (), 0)
        event = parsed.events[0]
        assert event.action == {"pull": "pull", "push": "push", "stale delete": "delete"}[kind]
        assert event.tag == "latest" and event.digest in (DIGEST_A, None)
        kinds[kind] += 1
    assert 700 < kinds["pull"] < 860 and 140 < kinds["push"] < 260 and 0 < kinds["stale delete"] < 50


def test_the_same_number_gives_the_same_event_but_a_new_id() -> None:
    maker = NotificationMaker(manifests(40), f"http://{REGISTRY}", NotificationMix(), seed=3)
    first, again = (parse_envelope(maker.envelope(17)[1], REGISTRY).events[0] for _ in range(2))
    assert (first.action, first.repository) == (again.action, again.repository)
    assert first.id != again.id


def test_popular_repositories_get_most_events() -> None:
    maker = NotificationMaker(manifests(100), f"http://{REGISTRY}", NotificationMix(), seed=1)
    counts = Counter(parse_envelope(maker.envelope(n)[1], REGISTRY).events[0].repository for n in range(2000))
    top_ten = sum(n for _, n in counts.most_common(10))
    assert top_ten > 2000 * 0.4  # Zipf with s = 1 over 100: the top 10 draw about 56 %


@pytest.mark.parametrize("shares", [(0.5, 0.5, 0.5), (1.2, -0.2, 0.0)])
def test_a_mix_that_does_not_add_up_is_refused(shares: tuple[float, float, float]) -> None:
    with pytest.raises(ValueError, match="add up to 1"):
        NotificationMix(*shares)


def churned() -> ChurnRepository:
    versions = (Version("1.0.0", Blob(b"one", OCI_MANIFEST)), Version("1.1.0", Blob(b"two", OCI_MANIFEST)))
    return ChurnRepository("soak-churn/app-0", versions)


def test_churn_moves_latest_deletes_every_nth_time_and_pushes_again_after() -> None:
    repository, done = churned(), []
    for count in range(8):
        operation = repository.next_operation(count, delete_every=3)
        done.append((operation.kind, operation.version))
        if operation.kind == "move latest":
            repository.latest = operation.version
        elif operation.kind == "delete":
            repository.deleted = operation.version
        else:
            repository.deleted = None
    assert done == [("move latest", 0), ("move latest", 1), ("delete", 0), ("re-push", 0),
                    ("move latest", 0), ("delete", 1), ("re-push", 1), ("move latest", 1)]


def test_churn_never_deletes_with_delete_every_zero() -> None:
    repository = churned()
    assert {repository.next_operation(count, 0).kind for count in range(20)} == {"move latest"}


def test_open_loop_times_from_the_due_time_so_a_slow_answer_delays_the_next() -> None:
    now = time.monotonic()
    window = Window(now + 0.05, now + 0.05, now + 0.345)  # due at 0.05 + n / 100: n = 0 .. 29

    def slow(client: None, number: int) -> tuple[str, str]:
        time.sleep(0.05 if number == 0 else 0.001)
        return "only", OK

    loop: OpenLoop[None] = OpenLoop("test", rate=100, workers=1, window=window, make_client=lambda: None, send=slow)
    loop.start()
    records = loop.join(timeout_s=5)
    assert len(records) == 30
    figures = loop_figures(records, window, rate=100, workers=1)
    # the requests due while the first took 50 ms were sent late and count that wait
    assert records[1].sent - records[1].due > 0.03
    assert figures["latency_ms"]["max"] >= 50 and figures["latency_ms"]["p90"] > figures["service_ms"]["p90"]
    assert figures["errors"] == {} and figures["by_label"]["only"]["requests"] == len(records)


def test_an_open_loop_given_up_on_sends_nothing_more() -> None:
    # A service too slow for the rate: join gives up, and what it returns is every request ever sent,
    # so a check made afterwards (the soak's pull count) sees none sent behind its back.
    now = time.monotonic()
    window = Window(now, now, now + 10.0)  # 1,000 due at 100/s; each takes 0.1 s on one worker
    sent: list[int] = []

    def slow(client: None, number: int) -> tuple[str, str]:
        sent.append(number)
        time.sleep(0.1)
        return "only", OK

    loop: OpenLoop[None] = OpenLoop("test", rate=100, workers=1, window=window, make_client=lambda: None, send=slow)
    loop.start()
    records = loop.join(timeout_s=0.35)
    time.sleep(0.3)
    assert 2 <= len(records) <= 6 and len(sent) == len(records)
    figures = loop_figures(records, window, rate=100, workers=1)
    assert figures["planned"] == 1000 and figures["requests"] == len(records)


def test_loop_figures_count_errors_apart_in_the_warm_up() -> None:
    window = Window(0.0, 1.0, 3.0)
    records = [Record("a", 0.5, 0.5, 0.6, "HTTP 503"), Record("a", 1.5, 1.5, 1.6, OK),
               Record("a", 2.0, 2.0, 2.5, "TimeoutError"), Record("b", 2.5, 2.5, 2.6, OK)]
    figures = loop_figures(records, window, rate=2, workers=1)
    assert (figures["requests"], figures["achieved_per_s"]) == (3, 1.0)
    assert figures["errors"] == {"TimeoutError": 1} and figures["warmup_errors"] == {"HTTP 503": 1}
    assert figures["by_label"]["b"]["errors"] == {}


def truth(repository: str, **tags: str) -> dict[str, TaggedManifest]:
    return {tag: TaggedManifest(repository, tag, digest, OCI_MANIFEST, 1) for tag, digest in tags.items()}


def test_consistency_names_missing_wrong_and_unexpected_tags() -> None:
    registry = {"a": truth("a", latest=DIGEST_A, v1=DIGEST_A), "b": truth("b", latest=DIGEST_B)}
    view = {"a": IndexedRepository({"latest": DIGEST_B, "old": DIGEST_A}, 3), "b": None}
    result = compare(registry, view, indexed_tags=2, pulls=PullAccount(3), pulled=["a", "b"])
    assert (result["missing"], result["wrong_digest"], result["unexpected"]) == (2, 1, 1)
    assert result["passed"] is False


def test_consistency_passes_when_index_and_pulls_agree() -> None:
    registry = {"a": truth("a", latest=DIGEST_A), "b": truth("b", latest=DIGEST_B)}
    view = {"a": IndexedRepository({"latest": DIGEST_A}, 5), "b": IndexedRepository({"latest": DIGEST_B}, 2)}
    assert compare(registry, view, 2, PullAccount(7), ["a", "b"])["passed"] is True
    assert compare(registry, view, 2, PullAccount(6), ["a", "b"])["passed"] is False  # a pull counted twice
    assert compare(registry, view, 2, PullAccount(6, uncertain=1), ["a", "b"])["passed"] is True


def test_memory_growth_is_end_over_start() -> None:
    samples = [{"memory_mib": {"rss": rss, "hwm": rss + 5}, "search_process_mib": {"rss": rss / 2, "hwm": rss}}
               for rss in (200.0, 230.0, 210.0)]
    figures = memory_figures(samples, target_growth=0.10)
    assert figures["all_processes"]["growth"] == 0.05 and figures["all_processes"]["max_rss"] == 230.0
    assert figures["met"] is True and figures["search_process"]["peak_hwm"] == 230.0


def test_the_report_renders_whatever_is_missing() -> None:
    section = markdown_section({"parameters": {"duration_s": 600, "notification_rate": 200, "query_rate": 100},
                                "errors": {"total": 0, "by_loop": {"queries": {}}}})
    assert section.startswith("## Soak (issue 6): 10.0 minutes at 200 notifications/s and 100 queries/s")
    assert "| zero errors | 0 (queries 0; dead-lettered events n/a) | **met** |" in section
    assert "Memory samples: n/a" in section
