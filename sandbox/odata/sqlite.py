"""SQLite plumbing shared by both stores: WAL mode, re-entrant transactions, tables from entity sets.

One connection per service process; ``p2c sandbox seed`` opens its own connection to the same file, which WAL
mode and a busy timeout make safe while the server runs. Every write runs inside :meth:`Database.transaction`;
nested calls use savepoints, so a ``$batch`` change set is one SQLite transaction that rolls back as a whole.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from p2c.sandbox.odata.model import EntitySet, Type, quote_ident

SCHEMA_META = """
CREATE TABLE IF NOT EXISTS p2c_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS p2c_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Database:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.execute("PRAGMA foreign_keys=OFF")
        self._depth = 0
        self._savepoints = 0
        self.conn.executescript(SCHEMA_META)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; nested calls are savepoints that roll back on their own."""
        if self._depth == 0:
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self._depth = 0
                self.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self.conn.execute("COMMIT")
            return
        self._savepoints += 1
        name = f"sp{self._savepoints}"
        self.conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield self.conn
        except BaseException:
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        finally:
            self._depth -= 1
        self.conn.execute(f"RELEASE {name}")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A consistent read: one read transaction (or the enclosing write transaction)."""
        if self._depth:
            yield self.conn
            return
        self.conn.execute("BEGIN")
        self._depth = 1
        try:
            yield self.conn
        finally:
            self._depth = 0
            self.conn.execute("COMMIT")

    def next_counter(self, name: str, at_least: int = 0) -> int:
        """The next value of a named counter, never smaller than ``at_least``; call inside a transaction."""
        row = self.conn.execute(
            "INSERT INTO p2c_counters(name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = MAX(value + 1, excluded.value) RETURNING value",
            (name, max(at_least, 1)),
        ).fetchone()
        return int(row[0])

    def counter(self, name: str) -> int:
        row = self.conn.execute("SELECT value FROM p2c_counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def meta(self, name: str) -> str | None:
        row = self.conn.execute("SELECT value FROM p2c_meta WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, name: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO p2c_meta(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def create_table(self, entity: EntitySet, extra_columns: Sequence[str] = ()) -> None:
        cols = []
        for f in entity.fields:
            collate = " COLLATE NOCASE" if f.type in (Type.STRING, Type.GUID) else ""
            cols.append(f"{quote_ident(f.name)} {f.type.sql}{collate}")
        cols += [f"{quote_ident(f.type_column)} TEXT" for f in entity.fields if f.polymorphic]
        cols += list(extra_columns)
        key = ", ".join(quote_ident(k) for k in entity.key)
        self.conn.execute(
            f"CREATE TABLE IF NOT EXISTS {quote_ident(entity.table)} ({', '.join(cols)}, PRIMARY KEY ({key}))"
        )
        have = {r[1] for r in self.conn.execute(f"PRAGMA table_info({quote_ident(entity.table)})")}
        for f in entity.fields:  # a data directory from before a column was added: add it
            if f.name not in have:
                column = f"{quote_ident(f.name)} {f.type.sql}"
                self.conn.execute(f"ALTER TABLE {quote_ident(entity.table)} ADD COLUMN {column}")
        for alt in entity.alternate_keys:
            name = f"ak_{entity.table}_{'_'.join(alt)}"
            columns = ", ".join(quote_ident(c) for c in alt)
            self.conn.execute(
                f"CREATE UNIQUE INDEX IF NOT EXISTS {quote_ident(name)} ON {quote_ident(entity.table)} ({columns})"
            )

    def index(self, entity: EntitySet, *columns: str) -> None:
        name = f"ix_{entity.table}_{'_'.join(columns)}"
        cols = ", ".join(quote_ident(c) for c in columns)
        self.conn.execute(f"CREATE INDEX IF NOT EXISTS {quote_ident(name)} ON {quote_ident(entity.table)} ({cols})")


def insert(conn: sqlite3.Connection, entity: EntitySet, row: dict[str, Any]) -> dict[str, Any]:
    """Insert ``row``; the row as stored, every column (one statement: ``RETURNING``)."""
    names = list(row)
    cols = ", ".join(quote_ident(n) for n in names)
    marks = ", ".join("?" for _ in names)
    sql = f"INSERT INTO {quote_ident(entity.table)} ({cols}) VALUES ({marks}) RETURNING *"
    stored = _first(conn.execute(sql, [row[n] for n in names]))
    assert stored is not None
    return stored


def update(
    conn: sqlite3.Connection, entity: EntitySet, key: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any] | None:
    """Apply ``changes`` to the row with ``key``; the row as stored now, or None when no row has that key."""
    if not changes:
        return fetch_one(conn, entity, key)
    sets = ", ".join(f"{quote_ident(n)} = ?" for n in changes)
    where, params = key_where(key)
    sql = f"UPDATE {quote_ident(entity.table)} SET {sets} WHERE {where} RETURNING *"
    return _first(conn.execute(sql, [*changes.values(), *params]))


def delete(conn: sqlite3.Connection, entity: EntitySet, key: dict[str, Any]) -> int:
    where, params = key_where(key)
    return conn.execute(f"DELETE FROM {quote_ident(entity.table)} WHERE {where}", params).rowcount


def fetch_one(conn: sqlite3.Connection, entity: EntitySet, key: dict[str, Any]) -> dict[str, Any] | None:
    where, params = key_where(key)
    return _first(conn.execute(f"SELECT * FROM {quote_ident(entity.table)} WHERE {where}", params))


def exists(conn: sqlite3.Connection, entity: EntitySet, key: dict[str, Any]) -> bool:
    """Whether a row has these column values: no columns read, unlike :func:`fetch_one`."""
    where, params = key_where(key)
    return (
        conn.execute(f"SELECT 1 FROM {quote_ident(entity.table)} WHERE {where} LIMIT 1", params).fetchone() is not None
    )


def _first(cur: sqlite3.Cursor) -> dict[str, Any] | None:
    """The first row of ``cur`` by column name; the statement is run to its end (a write's ``RETURNING``
    must be, or the transaction's COMMIT finds it still in progress)."""
    rows = cur.fetchall()
    if not rows:
        return None
    return dict(zip([d[0] for d in cur.description], rows[0], strict=True))


def key_where(key: dict[str, Any]) -> tuple[str, list[Any]]:
    return " AND ".join(f"{quote_ident(k)} = ?" for k in key), list(key.values())
