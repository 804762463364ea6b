"""The indexer's state in SQLite, next to the embedded logs."""

from __future__ import annotations

from pathlib import Path

from indexer.documents import TagDocument, document_from_json, document_to_json
from indexer.popularity import PullHistory
from indexer.state import IndexerState, StateUpdate
from regsearch.logs.sqlite import SqliteDatabase

STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS tags (
    registry TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
    doc BLOB NOT NULL, PRIMARY KEY (registry, repository, tag)
);
CREATE TABLE IF NOT EXISTS pulls (
    registry TEXT NOT NULL, repository TEXT NOT NULL, count INTEGER NOT NULL,
    through INTEGER NOT NULL, PRIMARY KEY (registry, repository)
);
CREATE TABLE IF NOT EXISTS pull_days (
    registry TEXT NOT NULL, repository TEXT NOT NULL, day TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (registry, repository, day)
);
CREATE INDEX IF NOT EXISTS pull_days_by_day ON pull_days (day);
CREATE TABLE IF NOT EXISTS tag_pulls (
    registry TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (registry, repository, tag)
);
"""


class SqliteIndexerState(IndexerState):
    """Indexer state in one SQLite file; ``apply`` is one transaction."""

    def __init__(self, path: Path) -> None:
        self._db = SqliteDatabase(path, STATE_SCHEMA, fsync=False)  # derived, see SqliteLog

    def tags(self, registry: str, repository: str) -> dict[str, TagDocument]:
        rows = self._db.query(
            "SELECT tag, doc FROM tags WHERE registry = ? AND repository = ?",
            (registry, repository),
        )
        docs = {tag: document_from_json(doc) for tag, doc in rows}
        return {tag: doc for tag, doc in docs.items() if isinstance(doc, TagDocument)}

    def pulls(self, registry: str, repository: str) -> int:
        rows = self._db.query(
            "SELECT count FROM pulls WHERE registry = ? AND repository = ?",
            (registry, repository),
        )
        return int(rows[0][0]) if rows else 0

    def repositories(self, registry: str) -> set[str]:
        rows = self._db.query("SELECT DISTINCT repository FROM tags WHERE registry = ?", (registry,))
        return {r for (r,) in rows}

    def pulls_through(self, registry: str, repository: str) -> int:
        rows = self._db.query(
            "SELECT through FROM pulls WHERE registry = ? AND repository = ?",
            (registry, repository),
        )
        return int(rows[0][0]) if rows else 0

    def pull_history(self, registry: str, repository: str) -> PullHistory:
        key = (registry, repository)
        days = self._db.query("SELECT day, count FROM pull_days WHERE registry = ? AND repository = ?", key)
        tags = self._db.query("SELECT tag, count FROM tag_pulls WHERE registry = ? AND repository = ?", key)
        return PullHistory({d: int(n) for d, n in days}, {t: int(n) for t, n in tags})

    def apply(self, update: StateUpdate) -> None:
        # Which repositories' pulls this update counts: those whose pulls_through it advances.
        counted = [key for key in update.pulls if update.pulls_through.get(key, 0) > self.pulls_through(*key)]
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO tags (registry, repository, tag, doc) VALUES (?, ?, ?, ?)",
                [(d.registry, d.repository, d.tag, document_to_json(d)) for d in update.upserts],
            )
            conn.executemany(
                "DELETE FROM tags WHERE registry = ? AND repository = ? AND tag = ?",
                update.deletes,
            )
            conn.executemany(
                "INSERT INTO pulls (registry, repository, count, through) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET count = count + excluded.count, through = excluded.through "
                "WHERE excluded.through > through",
                [(reg, repo, n, update.pulls_through.get((reg, repo), 0)) for (reg, repo), n in update.pulls.items()],
            )
            conn.executemany(
                "INSERT INTO pull_days (registry, repository, day, count) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET count = count + excluded.count",
                [(*key, day, n) for key in counted for day, n in update.pull_days.get(key, {}).items()],
            )
            conn.executemany(
                "INSERT INTO tag_pulls (registry, repository, tag, count) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET count = count + excluded.count",
                [(*key, tag, n) for key in counted for tag, n in update.tag_pulls.get(key, {}).items()],
            )
            conn.executemany("DELETE FROM tag_pulls WHERE registry = ? AND repository = ? AND tag = ?", update.deletes)
            if update.keep_from:
                conn.execute("DELETE FROM pull_days WHERE day < ?", (update.keep_from,))

    def close(self) -> None:
        self._db.close()
