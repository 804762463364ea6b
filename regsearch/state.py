"""The indexer's state in SQLite, next to the embedded logs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from indexer.documents import TagDocument, document_from_json, document_to_json
from indexer.state import IndexerState, StateUpdate
from regsearch.logs.sqlite import SqliteDatabase

STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS tags (
    registry TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
    doc BLOB NOT NULL, PRIMARY KEY (registry, repository, tag)
);
CREATE TABLE IF NOT EXISTS pulls (
    registry TEXT NOT NULL, repository TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (registry, repository)
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class SqliteIndexerState(IndexerState):
    """Indexer state in one SQLite file; ``apply`` is one transaction."""

    def __init__(self, path: Path) -> None:
        self._db = SqliteDatabase(path, STATE_SCHEMA)

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

    def applied_through(self) -> int:
        rows = self._db.query("SELECT value FROM meta WHERE name = 'through'")
        return int(rows[0][0]) if rows else 0

    @staticmethod
    def _through(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT value FROM meta WHERE name = 'through'").fetchone()
        return int(row[0]) if row else 0

    def apply(self, update: StateUpdate, through: int) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO tags (registry, repository, tag, doc) VALUES (?, ?, ?, ?)",
                [(d.registry, d.repository, d.tag, document_to_json(d)) for d in update.upserts],
            )
            conn.executemany(
                "DELETE FROM tags WHERE registry = ? AND repository = ? AND tag = ?",
                update.deletes,
            )
            if through <= self._through(conn):
                return
            conn.executemany(
                "INSERT INTO pulls (registry, repository, count) VALUES (?, ?, ?) "
                "ON CONFLICT DO UPDATE SET count = count + excluded.count",
                [(reg, repo, n) for (reg, repo), n in update.pulls.items()],
            )
            conn.execute(
                "INSERT INTO meta (name, value) VALUES ('through', ?) "
                "ON CONFLICT DO UPDATE SET value = excluded.value",
                (through,),
            )

    def close(self) -> None:
        self._db.close()
