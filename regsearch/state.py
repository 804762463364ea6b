"""The indexer's state in SQLite, next to the embedded logs."""

from __future__ import annotations

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
    through INTEGER NOT NULL, PRIMARY KEY (registry, repository)
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

    def apply(self, update: StateUpdate) -> None:
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

    def close(self) -> None:
        self._db.close()
