"""The embedded backend: logs in SQLite files in the data directory.

Each log is one SQLite database in WAL mode. With ``fsync`` (the default,
``synchronous=FULL``) a transaction that returned is on disk, surviving
``kill -9`` and power loss alike; what the webhook acknowledges is kept so.
Without it (``synchronous=NORMAL``) a returned transaction survives the
process dying but not the machine: good enough for what can be rebuilt from
the registry (documents, indexer state), and it spares the disk an fsync per
batch. Either way a batch is wholly there or not at all. Offsets are
``AUTOINCREMENT`` row ids, so they only grow, and writers are serialised by
SQLite, so a reader never sees a later offset before an earlier one. An
offset is the row id less one, so offsets start at 0 as in Kafka.

A compacted log (the document log) keeps only the newest record of each key,
as a compacted Kafka topic does; tombstones are kept so that a reader far
behind still learns of the delete. A SQLite log has one partition, 0.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from regsearch.logs.abstract import (
    Consumer,
    DeadLetter,
    DeadLetters,
    Log,
    LogUnavailable,
    Message,
    Positions,
    Record,
    next_positions,
)

LOG_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    offset INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    value BLOB,
    appended REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS records_key ON records (key);
CREATE TABLE IF NOT EXISTS dedupe (id TEXT PRIMARY KEY, appended REAL NOT NULL);
CREATE INDEX IF NOT EXISTS dedupe_appended ON dedupe (appended);
CREATE TABLE IF NOT EXISTS offsets (grp TEXT PRIMARY KEY, next INTEGER NOT NULL);
"""

DEAD_LETTER_SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    raw BLOB NOT NULL
);
"""

DEDUPE_RETENTION_S = 7 * 24 * 3600
PARTITION = 0
RECHECK_S = 0.05  # appends by another process wake no one here: look again this often


class SqliteDatabase:
    """One SQLite file shared by the threads of a process, one statement at a time."""

    def __init__(self, path: Path, schema: str, *, fsync: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
        self._conn.executescript(schema)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; durable when the block exits without error.

        Any SQLite failure becomes ``LogUnavailable`` after a rollback.
        """
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise LogUnavailable(f"{self.path.name}: {exc}") from exc

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise LogUnavailable(f"{self.path.name}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()


@dataclass
class _Append:
    """One caller's messages, waiting to be committed with others'; then what came of them."""

    messages: Sequence[Message]
    done: bool = False
    added: int = 0
    error: BaseException | None = None


class SqliteLog(Log):
    """A log in one SQLite file; ``compacted`` keeps only each key's newest record.

    Appends of concurrent callers share one transaction (group commit):
    each caller waits for its turn to commit, and the caller whose turn it
    is commits every append queued by then, its own and those of the
    callers still waiting, so one fsync makes them all durable. Every
    caller returns only after its messages are committed, and a failed
    transaction fails every append in it. At 200 notifications/s, each its
    own transaction, receivers queued behind each other's fsync: p99 119 ms
    from the time each was due, 38 ms with group commit (the CPU they cost
    stayed the same).
    """

    def __init__(self, path: Path, *, compacted: bool = False, fsync: bool = True) -> None:
        self._db = SqliteDatabase(path, LOG_SCHEMA, fsync=fsync)
        self._compacted = compacted
        self._appended = threading.Condition()
        self._queued: list[_Append] = []
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()

    def append(self, messages: Sequence[Message]) -> int:
        mine = _Append(messages)
        with self._queue_lock:
            self._queued.append(mine)
        with self._commit_lock:
            if not mine.done:  # else an earlier turn committed it with its own
                with self._queue_lock:
                    group, self._queued = self._queued, []
                self._commit(group)  # raises what failed it
        if mine.error is not None:
            raise mine.error
        return mine.added

    def _commit(self, group: list[_Append]) -> None:
        """Append every message of ``group`` in one transaction and tell each caller what came of it."""
        now = time.time()
        try:
            with self._db.transaction() as conn:
                added = [sum(self._append_one(conn, m, now) for m in queued.messages) for queued in group]
        except BaseException as error:  # every caller of the group fails, each with its own exception
            for queued in group:
                queued.error, queued.done = LogUnavailable(str(error)), True
                queued.error.__cause__ = error
            raise
        for queued, count in zip(group, added):
            queued.added, queued.done = count, True
        with self._appended:
            self._appended.notify_all()

    def _append_one(self, conn: sqlite3.Connection, message: Message, now: float) -> int:
        if message.dedupe_id is not None:
            seen = conn.execute(
                "INSERT OR IGNORE INTO dedupe (id, appended) VALUES (?, ?)",
                (message.dedupe_id, now),
            )
            if seen.rowcount == 0:
                return 0
        cursor = conn.execute(
            "INSERT INTO records (key, value, appended) VALUES (?, ?, ?)",
            (message.key, message.value, now),
        )
        if self._compacted:
            conn.execute(
                "DELETE FROM records WHERE key = ? AND offset < ?",
                (message.key, cursor.lastrowid),
            )
        return 1

    def read(self, offset: int, limit: int) -> list[Record]:
        """Up to ``limit`` records from ``offset`` on, in order."""
        rows = self._db.query(
            "SELECT offset, key, value FROM records WHERE offset > ? ORDER BY offset LIMIT ?",
            (offset, limit),
        )
        return [Record(PARTITION, o - 1, k, None if v is None else bytes(v)) for o, k, v in rows]

    def wait_for_append(self, timeout_s: float) -> None:
        """Sleep until this process appends, or ``timeout_s`` passes."""
        with self._appended:
            self._appended.wait(timeout_s)

    def end_offsets(self) -> dict[int, int]:
        rows = self._db.query("SELECT seq FROM sqlite_sequence WHERE name = 'records'")
        return {PARTITION: int(rows[0][0]) if rows else 0}

    def committed(self, group: str) -> dict[int, int]:
        rows = self._db.query("SELECT next FROM offsets WHERE grp = ?", (group,))
        return {PARTITION: int(rows[0][0])} if rows else {}

    def commit_group(self, group: str, positions: Positions) -> None:
        """Durably store ``group``'s position."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO offsets (grp, next) VALUES (?, ?) "
                "ON CONFLICT (grp) DO UPDATE SET next = excluded.next",
                (group, positions.get(PARTITION, 0)),
            )

    def consumer(self, group: str) -> Consumer:
        return SqliteConsumer(self, group, self.committed(group))

    def reader(self, start: Positions) -> Consumer:
        return SqliteConsumer(self, None, start)

    def prune(self, before_offset: int, *, older_than_s: float) -> int:
        """Drop records below ``before_offset`` appended over ``older_than_s``
        ago, and expired dedupe ids; returns how many records went."""
        cutoff = time.time() - older_than_s
        with self._db.transaction() as conn:
            gone = conn.execute(
                "DELETE FROM records WHERE offset <= ? AND appended < ?",
                (before_offset, cutoff),
            ).rowcount
            conn.execute(
                "DELETE FROM dedupe WHERE appended < ?", (time.time() - DEDUPE_RETENTION_S,)
            )
        return gone

    def close(self) -> None:
        self._db.close()


class SqliteConsumer(Consumer):
    """Reads the single partition of a ``SqliteLog`` from a position it keeps.

    One process runs one member per group: SQLite has no rebalancing.
    """

    def __init__(self, log: SqliteLog, group: str | None, start: Positions) -> None:
        self._log = log
        self._group = group
        self._position = dict(start)

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        deadline = time.monotonic() + timeout_s
        while True:
            records = self._log.read(self._position.get(PARTITION, 0), max_records)
            remaining = deadline - time.monotonic()
            if records or remaining <= 0:
                self._position = next_positions(records, self._position)
                return records
            self._log.wait_for_append(min(remaining, RECHECK_S))

    def commit(self, positions: Positions) -> None:
        if self._group is None:
            raise TypeError("a reader has no group to commit for")
        self._log.commit_group(self._group, positions)


class SqliteDeadLetters(DeadLetters):
    """Dead letters in one SQLite file, kept until removed."""

    def __init__(self, path: Path) -> None:
        self._db = SqliteDatabase(path, DEAD_LETTER_SCHEMA)

    def add(self, source: str, reason: str, raw: bytes) -> None:
        stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO dead_letters (time, source, reason, raw) VALUES (?, ?, ?, ?)",
                (stamp, source, reason, raw),
            )

    def list(self) -> list[DeadLetter]:
        rows = self._db.query(
            "SELECT id, time, source, reason, raw FROM dead_letters ORDER BY id"
        )
        return [DeadLetter(i, t, s, r, bytes(raw)) for i, t, s, r, raw in rows]

    def remove(self, ids: Sequence[int]) -> None:
        with self._db.transaction() as conn:
            conn.executemany("DELETE FROM dead_letters WHERE id = ?", [(i,) for i in ids])

    def close(self) -> None:
        self._db.close()
