"""The Kafka backend against a real broker (``kafka_bootstrap``), plus its pure parts."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from regsearch.logs import LogUnavailable, Message, Record
from regsearch.logs.kafka import KafkaDeadLetters, KafkaLog, KafkaSettings, RecentIds, ensure_topics
from regsearch.logs.kafka_admin import admin_client, topic_config
from regsearch.logs.kafka_consumers import KafkaGroupConsumer
from tests.regsearch.log_contract import LogContract, LogFactory
from tests.support.kafka import REPO_ROOT, unique_prefix
from tests.support.ports import free_port
from tests.support.waiting import wait_until

WAIT_S = 30.0


@pytest.fixture
def settings(kafka_bootstrap: str) -> KafkaSettings:
    """Settings for a fresh set of topics of this test's own."""
    settings = KafkaSettings(kafka_bootstrap, topic_prefix=unique_prefix())
    ensure_topics(settings)
    return settings


@pytest.fixture
def events(settings: KafkaSettings) -> Iterator[KafkaLog]:
    log = KafkaLog(settings, "events")
    yield log
    log.close()


class TestKafkaLog(LogContract):
    """The contract on a 6-partition topic; reopening is a new ``KafkaLog`` on it.

    ``test_appends_survive_reopening`` also expects a repeated dedupe id to be
    skipped after reopening: it is, because the memory of ids belongs to the
    process, not to the ``KafkaLog`` object (a restarted process forgets).
    """

    @pytest.fixture
    def log_factory(self, settings: KafkaSettings) -> Iterator[LogFactory]:
        opened: list[KafkaLog] = []

        def open_log() -> KafkaLog:
            opened.append(KafkaLog(settings, "events"))
            return opened[-1]

        yield open_log
        for log in opened:
            log.close()


def test_ensure_topics_compacts_docs_state_and_dead_letters(settings: KafkaSettings) -> None:
    with admin_client(settings) as admin:
        policies = {name: topic_config(admin, settings.topic(name))["cleanup.policy"]
                    for name in ("events", "docs", "state", "deadletter")}
    assert policies == {"events": "delete", "docs": "compact", "state": "compact", "deadletter": "compact"}
    assert KafkaLog(settings, "state").end_offsets().keys() == set(range(settings.partitions))


def test_ensure_topics_refuses_a_docs_topic_that_deletes(kafka_bootstrap: str) -> None:
    settings = KafkaSettings(kafka_bootstrap, topic_prefix=unique_prefix(), partitions=1)
    with admin_client(settings) as admin:
        admin.create_topics({settings.topic("docs"): {"num_partitions": 1, "replication_factor": 1}})
    with pytest.raises(ValueError, match="cleanup.policy=compact"):
        ensure_topics(settings)


def test_append_to_an_unreachable_broker_is_unavailable_within_the_webhook_timeout() -> None:
    log = KafkaLog(KafkaSettings(f"127.0.0.1:{free_port()}"), "events")
    for _ in range(2):  # connecting, and again once it failed
        started = time.monotonic()
        with pytest.raises(LogUnavailable):
            log.append([Message("r/a", b"1", "id-1")])
        assert time.monotonic() - started < 1.5
    log.close()


def test_dead_letters_roundtrip(settings: KafkaSettings) -> None:
    dead = KafkaDeadLetters(settings)
    dead.add("webhook", "not JSON", b"{oops\x00\xff")
    dead.add("indexer", "bad manifest", b'{"id": "1"}')
    entries = dead.list()
    assert [(e.source, e.reason, e.raw) for e in entries] == [
        ("webhook", "not JSON", b"{oops\x00\xff"),
        ("indexer", "bad manifest", b'{"id": "1"}'),
    ]
    dead.remove([entries[0].id])
    dead.close()
    again = KafkaDeadLetters(settings)
    assert [(e.id, e.reason) for e in again.list()] == [(entries[1].id, "bad manifest")]
    again.close()


@dataclass
class Member:
    """A group member polling and committing in a thread, as an indexer does."""

    consumer: KafkaGroupConsumer
    records: list[Record] = field(default_factory=list)
    owned: set[int] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            batch = self.consumer.poll(100, 0.2)
            self.records += batch
            if batch:
                self.consumer.commit({r.partition: r.offset + 1 for r in batch})
            self.owned = self.consumer.partitions()
        self.consumer.close()


MemberStarter = Callable[[str], Member]


@pytest.fixture
def start_member(settings: KafkaSettings) -> Iterator[MemberStarter]:
    members: list[tuple[Member, threading.Thread]] = []

    def start(group: str) -> Member:
        member = Member(KafkaGroupConsumer(settings, settings.topic("events"), group))
        thread = threading.Thread(target=member.run, daemon=True)
        thread.start()
        members.append((member, thread))
        return member

    yield start
    for member, thread in members:
        member.stop.set()
        thread.join(10)


def wait_for(condition: Callable[[], object], what: str) -> None:
    wait_until(condition, WAIT_S, what)


def spread(count: int) -> list[Message]:
    """Messages with distinct keys, so that they land on every partition."""
    return [Message(f"registry/repo-{i}", str(i).encode()) for i in range(count)]


def test_two_members_split_the_partitions_and_read_everything_once(
    events: KafkaLog, start_member: MemberStarter
) -> None:
    one, two = start_member("indexer"), start_member("indexer")
    split = lambda: one.owned and two.owned and not one.owned & two.owned and len(one.owned | two.owned) == 6  # noqa: E731
    wait_for(split, "the partitions split between both members")
    events.append(spread(60))
    wait_for(lambda: len(one.records) + len(two.records) >= 60, "all records read")
    time.sleep(0.5)  # a duplicate would show up now
    assert {r.partition for r in one.records} <= one.owned
    assert sorted(int(r.value or b"") for r in one.records + two.records) == list(range(60))
    assert events.committed("indexer") == {p: end for p, end in events.end_offsets().items() if end}


def test_deployments_sharing_a_cluster_do_not_rebalance_each_other(
    settings: KafkaSettings, start_member: MemberStarter, caplog: pytest.LogCaptureFixture
) -> None:
    ours = start_member("indexer")
    wait_for(lambda: len(ours.owned) == 6, "our member owning every partition")
    other = KafkaSettings(settings.bootstrap, topic_prefix=unique_prefix(), partitions=2)
    ensure_topics(other)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="regsearch.logs.kafka_consumers"):
        theirs = KafkaGroupConsumer(other, other.topic("events"), "indexer")
        try:
            wait_for(lambda: theirs.poll(10, 0.2) is not None and len(theirs.partitions()) == 2,
                     "the other deployment's member owning its partitions")
        finally:
            theirs.close()
    ours_revoked = [r.getMessage() for r in caplog.records if "revoked: " + settings.topic("events") in r.getMessage()]
    assert ours_revoked == [], "our member gave its partitions up"
    assert len(ours.owned) == 6


def run_member(bootstrap: str, prefix: str, group: str) -> None:
    """A member in a child process: reads without committing, says what it read, waits to be killed."""
    logging.basicConfig(level=logging.INFO, format="child %(asctime)s %(name)s %(message)s")
    settings = KafkaSettings(bootstrap, topic_prefix=prefix, session_timeout_s=6.0)
    consumer = KafkaGroupConsumer(settings, settings.topic("events"), group)
    while True:
        for record in consumer.poll(100, 0.2):
            print(f"read {record.value.decode() if record.value else ''}", flush=True)
        print(f"owns {sorted(consumer.partitions())}", flush=True)


class ChildMember:
    """``run_member`` in a subprocess; what it printed is collected in a thread."""

    def __init__(self, settings: KafkaSettings, group: str) -> None:
        code = (
            "from tests.regsearch.test_kafka_log import run_member; "
            f"run_member({settings.bootstrap!r}, {settings.topic_prefix!r}, {group!r})"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
        )
        self.read: set[int] = set()
        self.owned = ""
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            verb, _, rest = line.strip().partition(" ")
            if verb == "read":
                self.read.add(int(rest))
            else:
                self.owned = rest

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)


def test_a_killed_members_uncommitted_records_go_to_the_other(
    kafka_bootstrap: str, start_member: MemberStarter, events: KafkaLog
) -> None:
    survivor = start_member("indexer")
    child = ChildMember(events.settings, "indexer")
    try:
        wait_for(lambda: child.owned not in ("", "[]") and len(survivor.owned) < 6, "the child member assigned")
        events.append(spread(30))
        wait_for(lambda: len(child.read) + len(survivor.records) >= 30, "all records read once")
    finally:
        child.kill()
    assert child.read, "the child read nothing, so nothing is tested"
    read_before = len(survivor.records)
    wait_for(lambda: len(survivor.owned) == 6, "the survivor owning every partition")
    wait_for(lambda: {int(r.value or b"") for r in survivor.records[read_before:]} >= child.read,
             "the child's records read again")
    assert {int(r.value or b"") for r in survivor.records} == set(range(30))


def test_recent_ids_skip_repeats_and_forget_the_oldest() -> None:
    recent = RecentIds(capacity=2)
    batch = [Message("k", b"1", "a"), Message("k", b"1", "a"), Message("k", b"2"), Message("k", b"3", "b")]
    assert recent.fresh(batch) == [batch[0], batch[2], batch[3]]
    recent.remember(["a", None, "b"])
    assert recent.fresh(batch) == [batch[2]]
    recent.remember(["c"])
    assert [m.dedupe_id for m in recent.fresh(batch)] == ["a", None]
    assert RecentIds(capacity=2).fresh(batch[:1]) == batch[:1], "another process remembers nothing"


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN"}, "needs sasl_username"),
        ({"security_protocol": "SASL_SSL", "sasl_username": "u", "sasl_password": "p"}, "needs sasl_mechanism"),
        ({"sasl_mechanism": "PLAIN", "sasl_username": "u", "sasl_password": "p"}, "use SASL_SSL"),
        ({"ssl_cafile": "/ca.pem"}, "use SSL or SASL_SSL"),
        ({"security_protocol": "SSL", "ssl_certfile": "/c.pem"}, "both ssl_certfile and ssl_keyfile"),
        ({"security_protocol": "TLS"}, "security_protocol must be one of"),
        ({"partitions": 0}, "at least 1"),
        ({"bootstrap": "kafka"}, "is not HOST:PORT"),
        ({"topic_prefix": "a/b"}, "topic_prefix"),
        ({"append_timeout_s": 0}, "append_timeout_s"),
    ],
)
def test_unsafe_settings_are_refused(options: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        KafkaSettings(**{"bootstrap": "127.0.0.1:9092", **options})  # type: ignore[arg-type]


def test_client_options_pass_security_through_and_hide_the_password() -> None:
    settings = KafkaSettings(
        "k1:9093,k2:9093", security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
        sasl_username="indexer", sasl_password="s3cret", ssl_cafile="/ca.pem",
    )
    options = settings.client_options()
    assert options["bootstrap_servers"] == ["k1:9093", "k2:9093"]
    assert (options["sasl_mechanism"], options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "SCRAM-SHA-512", "indexer", "s3cret")
    assert options["ssl_cafile"] == "/ca.pem"
    assert "s3cret" not in repr(settings)
