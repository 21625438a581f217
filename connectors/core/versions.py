"""The version a sink applied per target key, kept on p2c's side: a SQLite file in the sink's state directory.

A target needs no field of p2c's (no customisation of the ERP). Before a batch the sink reads the applied
versions of its keys; a write whose origin version is not newer than the applied one is skipped, so a
redelivery is harmless and an older version never overwrites a newer one. After the target acknowledged a
write (upsert or delete), its version is recorded. A key that is not in the store has no applied version:
its write goes through (the first write, or a store that was lost: writes are idempotent upserts).

One file per target (``versions-<target>.sqlite``). Sink processes on one machine share it safely through
SQLite's locking. A sink on another machine keeps its own: when a partition moves there, its keys have no
applied version until they are written again, and until then a replay of an older write would go through.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

Key = tuple[str, ...]
_SEP = "\x1f"  # unit separator: never inside a FinOps or Dataverse key value


class VersionStore:
    def __init__(self, directory: Path, target: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"versions-{target}.sqlite"
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS applied (key TEXT PRIMARY KEY, version INTEGER NOT NULL)")

    def get(self, keys: Iterable[Key]) -> dict[Key, int]:
        """The applied version of each of ``keys`` that has one (keys compared case-insensitively)."""
        wanted = {_text(k): k for k in keys}
        found: dict[Key, int] = {}
        names = list(wanted)
        with self._lock:
            for i in range(0, len(names), 500):
                chunk = names[i : i + 500]
                marks = ",".join("?" for _ in chunk)
                for key, version in self._conn.execute(
                    f"SELECT key, version FROM applied WHERE key IN ({marks})", chunk
                ):
                    found[wanted[key]] = int(version)
        return found

    def put(self, versions: Mapping[Key, int]) -> None:
        """Record applied versions; a stored newer version is kept."""
        if not versions:
            return
        rows = [(_text(k), v) for k, v in versions.items()]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT INTO applied(key, version) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET version = MAX(version, excluded.version)",
                    rows,
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _text(key: Key) -> str:
    return _SEP.join(k.lower() for k in key)
