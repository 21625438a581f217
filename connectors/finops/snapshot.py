"""The last snapshot the ERP source took, on disk: one content hash per key, so memory stays bounded.

A cycle writes what it reads into SQLite (``current`` rows, ``parts`` read from other entity sets to join
them), then the differences against ``last`` come out in key order, a page at a time:

    in current, not in last        created (or read, in the first full load)
    in both, hashes differ         updated
    in last, not in current        deleted

The source publishes a page of differences, waits for the broker to acknowledge it (a checkpoint), and only
then ``apply``s it to ``last``: a crash in between publishes the page again next time, never loses it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS last (key TEXT PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS current (key TEXT PRIMARY KEY, hash TEXT NOT NULL, row TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parts (kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT, PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Difference:
    key: str
    op: str  # c, u, d
    row: dict[str, Any] | None  # None for a delete
    hash: str | None


def content_hash(row: dict[str, Any]) -> str:
    text = json.dumps(row, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class SnapshotStore:
    def __init__(self, directory: Path, name: str = "products") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"snapshot-{name}.sqlite"
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    # ---- one cycle --------------------------------------------------------------------------------

    def begin(self) -> None:
        """Forget the previous cycle's reads (``last`` stays)."""
        self.conn.executescript("BEGIN; DELETE FROM current; DELETE FROM parts; COMMIT;")

    def add_parts(self, kind: str, values: list[tuple[str, Any]]) -> None:
        self.conn.execute("BEGIN")
        self.conn.executemany(
            "INSERT OR REPLACE INTO parts(kind, key, value) VALUES (?, ?, ?)",
            [(kind, k, json.dumps(v)) for k, v in values],
        )
        self.conn.execute("COMMIT")

    def parts(self, kind: str, keys: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" for _ in chunk)
            sql = f"SELECT key, value FROM parts WHERE kind = ? AND key IN ({marks})"
            out.update({k: json.loads(v) for k, v in self.conn.execute(sql, [kind, *chunk])})
        return out

    def add_current(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        self.conn.execute("BEGIN")
        self.conn.executemany(
            "INSERT OR REPLACE INTO current(key, hash, row) VALUES (?, ?, ?)",
            [(k, content_hash(r), json.dumps(r, default=str)) for k, r in rows],
        )
        self.conn.execute("COMMIT")

    # ---- differences --------------------------------------------------------------------------------

    def _pages(self, sql: str, page: int) -> Iterator[list[tuple[Any, ...]]]:
        """Rows of ``sql`` (first column the key; parameters: the last key, the page size) a page at a time."""
        after = ""
        while rows := self.conn.execute(sql, (after, page)).fetchall():
            yield rows
            after = rows[-1][0]

    def changed(self, page: int) -> Iterator[list[Difference]]:
        """Created and updated rows, ``page`` at a time, in key order."""
        sql = (
            "SELECT c.key, c.row, c.hash, l.hash IS NULL FROM current c LEFT JOIN last l ON l.key = c.key "
            "WHERE (l.hash IS NULL OR l.hash <> c.hash) AND c.key > ? ORDER BY c.key LIMIT ?"
        )
        for rows in self._pages(sql, page):
            yield [Difference(k, "c" if new else "u", json.loads(r), h) for k, r, h, new in rows]

    def deleted(self, page: int) -> Iterator[list[Difference]]:
        """Rows of the last snapshot that are gone, ``page`` at a time, in key order."""
        sql = (
            "SELECT l.key FROM last l LEFT JOIN current c ON c.key = l.key "
            "WHERE c.key IS NULL AND l.key > ? ORDER BY l.key LIMIT ?"
        )
        for rows in self._pages(sql, page):
            yield [Difference(k, "d", None, None) for (k,) in rows]

    def apply(self, differences: list[Difference]) -> None:
        """Make ``last`` what was published: call only once the broker acknowledged these."""
        self.conn.execute("BEGIN")
        for d in differences:
            if d.hash is None:
                self.conn.execute("DELETE FROM last WHERE key = ?", (d.key,))
            else:
                self.conn.execute("INSERT OR REPLACE INTO last(key, hash) VALUES (?, ?)", (d.key, d.hash))
        self.conn.execute("COMMIT")

    # ---- state --------------------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        """True once a full snapshot was published and applied."""
        return self.conn.execute("SELECT 1 FROM meta WHERE name = 'loaded'").fetchone() is not None

    def forget(self) -> None:
        """Forget what was published: the next cycle publishes every row as a full snapshot (a resync)."""
        self.conn.executescript("BEGIN; DELETE FROM last; DELETE FROM meta WHERE name = 'loaded'; COMMIT;")

    def mark_loaded(self) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(name, value) VALUES ('loaded', '1')")

    def size(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM last").fetchone()[0])
