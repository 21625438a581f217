"""Where a reconcile keeps what it read and worked out: a SQLite file in a temporary directory, so memory stays
bounded by a page however large the tenants are. Deleted when the reconcile ends.

    events    the source change events as the streams would read them (Avro bytes), by topic and message key
    deps      the join values (an account's number by account id, ...), as the join providers would hold them
    expected  the target records the flows would write, by target and normalized key
    actual    the target rows, by entity set and normalized key
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from p2c.streams.join import codec

SCHEMA = """
CREATE TABLE events (seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL);
CREATE INDEX events_by_key ON events (key, seq);
CREATE TABLE deps (dep_join TEXT NOT NULL, dep TEXT NOT NULL, version INTEGER NOT NULL, value BLOB,
                   PRIMARY KEY (dep_join, dep));
CREATE TABLE expected (flow TEXT NOT NULL, target TEXT NOT NULL, key TEXT NOT NULL, parent TEXT,
                       source_id TEXT, version INTEGER NOT NULL, record BLOB NOT NULL,
                       PRIMARY KEY (flow, target, key));
CREATE TABLE actual (target TEXT NOT NULL, key TEXT NOT NULL, parent TEXT, row BLOB NOT NULL,
                     copies INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (target, key));
CREATE TABLE loaded (what TEXT PRIMARY KEY);
"""


class Spill:
    def __init__(self, directory: Path | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="p2c-reconcile-", dir=directory)
        self.path = Path(self._dir.name) / "reconcile.sqlite"
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=OFF")
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()
        self._dir.cleanup()

    def _many(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
        self.conn.execute("BEGIN")
        self.conn.executemany(sql, rows)
        self.conn.execute("COMMIT")

    # ---- what was read once per run -------------------------------------------------------------------

    def loaded(self, what: str) -> bool:
        return self.conn.execute("SELECT 1 FROM loaded WHERE what = ?", (what,)).fetchone() is not None

    def mark_loaded(self, what: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO loaded VALUES (?)", (what,))

    # ---- source events and join values ----------------------------------------------------------------

    def add_events(self, events: Iterable[tuple[str, str, bytes]]) -> None:
        self._many("INSERT INTO events (topic, key, value) VALUES (?, ?, ?)", events)

    def events(self, topics: list[str], page: int = 1000) -> Iterator[tuple[str, str, bytes]]:
        """(topic, key, value) of ``topics`` by message key, then in the order read: the events of one key (a quote
        and its lines) come one after the other. Read a page at a time."""
        marks = ",".join("?" for _ in topics)
        sql = (
            f"SELECT key, seq, topic, value FROM events WHERE topic IN ({marks}) AND (key, seq) > (?, ?) "
            "ORDER BY key, seq LIMIT ?"
        )
        after: tuple[str, int] = ("", -1)
        while rows := self.conn.execute(sql, (*topics, *after, page)).fetchall():
            for key, _seq, topic, value in rows:
                yield topic, key, value
            after = (rows[-1][0], rows[-1][1])

    def add_deps(self, join: str, values: Iterable[tuple[str, int, dict[str, Any] | None]]) -> None:
        """The newest value per dependency id wins, as in the join provider."""
        self._many(
            "INSERT INTO deps VALUES (?, ?, ?, ?) ON CONFLICT (dep_join, dep) DO UPDATE SET "
            "version = excluded.version, value = excluded.value WHERE excluded.version > deps.version",
            ((join, dep, version, codec.dumps(value)) for dep, version, value in values),
        )

    def dep(self, join: str, dep: str) -> tuple[int, dict[str, Any] | None] | None:
        row = self.conn.execute(
            "SELECT version, value FROM deps WHERE dep_join = ? AND dep = ?", (join, dep)
        ).fetchone()
        return None if row is None else (int(row[0]), codec.loads(row[1]))

    # ---- expected records and actual rows -------------------------------------------------------------

    def expect(self, rows: Iterable[tuple[str, str, str, str | None, str | None, int, dict[str, Any]]]) -> None:
        """(flow, target, key, parent, source id, version, record): the newest version per key wins (the
        sinks keep the newest write per key)."""
        self._many(
            "INSERT INTO expected VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (flow, target, key) DO UPDATE SET "
            "parent = excluded.parent, source_id = excluded.source_id, version = excluded.version, "
            "record = excluded.record WHERE excluded.version >= expected.version",
            ((f, t, k, p, s, v, codec.dumps(r)) for f, t, k, p, s, v, r in rows),
        )

    def add_actual(self, target: str, rows: Iterable[tuple[str, str | None, dict[str, Any]]]) -> None:
        """A second row with the same key (p2c's key: a contact person is FinOps's by another) is counted."""
        self._many(
            "INSERT INTO actual VALUES (?, ?, ?, ?, 1) ON CONFLICT (target, key) DO UPDATE SET copies = copies + 1",
            ((target, key, parent, codec.dumps(row)) for key, parent, row in rows),
        )

    def duplicates(self, target: str) -> Iterator[tuple[str, int, dict[str, Any]]]:
        """(key, copies, one row) of the keys ``target`` has more than one row for."""
        sql = "SELECT key, copies, row FROM actual WHERE target = ? AND copies > 1 ORDER BY key"
        for key, copies, row in self.conn.execute(sql, (target,)).fetchall():
            yield key, int(copies), codec.loads(row)

    def pairs(
        self, flow: str, target: str, page: int = 1000
    ) -> Iterator[tuple[str, str | None, dict[str, Any], dict[str, Any] | None]]:
        """(key, source id, expected record, actual row or None) of every record ``flow`` expects in ``target``."""
        sql = (
            "SELECT e.key, e.source_id, e.record, a.row FROM expected e LEFT JOIN actual a "
            "ON a.target = e.target AND a.key = e.key WHERE e.flow = ? AND e.target = ? AND e.key > ? "
            "ORDER BY e.key LIMIT ?"
        )
        after = ""
        while rows := self.conn.execute(sql, (flow, target, after, page)).fetchall():
            for key, source_id, record, row in rows:
                yield key, source_id, codec.loads(record), codec.loads(row)
            after = rows[-1][0]

    def unexpected(self, flow: str, target: str, page: int = 1000) -> Iterator[tuple[str, dict[str, Any]]]:
        """(key, row) of the rows of ``target`` ``flow`` expects nothing for; for a target of child rows (lines),
        only those whose parent ``flow`` expects."""
        sql = (
            "SELECT a.key, a.row FROM actual a WHERE a.target = ? AND a.key > ? AND NOT EXISTS "
            "(SELECT 1 FROM expected e WHERE e.flow = ? AND e.target = a.target AND e.key = a.key) "
            "AND (a.parent IS NULL OR EXISTS (SELECT 1 FROM expected p WHERE p.flow = ? AND p.key = a.parent)) "
            "ORDER BY a.key LIMIT ?"
        )
        after = ""
        while rows := self.conn.execute(sql, (target, after, flow, flow, page)).fetchall():
            for key, row in rows:
                yield key, codec.loads(row)
            after = rows[-1][0]

    def expected(self, flow: str, target: str, key: str) -> bool:
        sql = "SELECT 1 FROM expected WHERE flow = ? AND target = ? AND key = ?"
        return self.conn.execute(sql, (flow, target, key)).fetchone() is not None

    def count_expected(self, flow: str) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM expected WHERE flow = ?", (flow,)).fetchone()[0])
