"""What a tenant's makers configured: alternate keys and change tracking, per table, kept in the store.

A real tenant has the keys its makers created and change tracking on the tables where someone turned it on;
neither is a given. A new data directory starts as the tenant the options describe (by default one set up for
p2c: change tracking on every table, keys on ``accountnumber``, ``msdynce_contactnumber`` and
``productnumber``). Creating a key through the metadata API makes it ``Pending``; after ``activation_s`` its
index is built: ``Active`` when the column's values are unique, else ``Failed`` (as Dataverse's
``EntityKeyIndexStatus``). Change tracking, once on, stays on: Dataverse cannot turn it off.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from p2c.sandbox.odata.model import quote_ident
from p2c.sandbox.odata.sqlite import Database

STATE = "crm:customization"
KEY_NAMESPACE = uuid.UUID("0b7d6a51-3c1e-4b8e-9a0f-5e2d7c4b1a93")
#: (table, schema name, columns) of the keys a tenant set up for p2c has
P2C_KEYS = (
    ("account", "p2c_accountnumber", ("accountnumber",)),
    ("contact", "msdynce_ContactNumber", ("msdynce_contactnumber",)),
    ("product", "p2c_productnumber", ("productnumber",)),
)


@dataclass
class Key:
    table: str
    schema_name: str
    attributes: list[str]
    metadata_id: str
    created_at: float
    status: str = "Pending"  # Pending, InProgress, Active, Failed

    @property
    def logical_name(self) -> str:
        return self.schema_name.lower()


def key_id(table: str, schema_name: str) -> str:
    return str(uuid.uuid5(KEY_NAMESPACE, f"{table}|{schema_name.lower()}"))


class Customization:
    def __init__(
        self,
        db: Database,
        table_names: Iterable[str],
        activation_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.table_names = list(table_names)
        self.activation_s = activation_s
        self.clock = clock

    # -- state ------------------------------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        raw = self.db.meta(STATE)
        return json.loads(raw) if raw else {}

    def _save(self, state: dict[str, Any]) -> None:
        with self.db.transaction():
            self.db.set_meta(STATE, json.dumps(state, sort_keys=True))

    def initialize(self, untracked: Iterable[str] = (), without_keys: Iterable[str] = ()) -> bool:
        """Set a new store up as the tenant described; False (and nothing changed) when it already was."""
        if self.db.meta(STATE) is not None:
            return False
        off = set(untracked)
        skip = set(without_keys)
        keys: dict[str, list[dict[str, Any]]] = {}
        for table, name, cols in P2C_KEYS:
            if table in skip:
                continue
            key = Key(table, name, list(cols), key_id(table, name), 0.0, "Active")
            keys.setdefault(table, []).append(asdict(key))
        state = {"tracking": {t: t not in off for t in self.table_names}, "keys": keys}
        self._save(state)
        for entries in keys.values():
            for entry in entries:
                self._index(Key(**entry))
        return True

    # -- change tracking --------------------------------------------------------------------------------

    def tracked(self, table: str) -> bool:
        tracking = self._load().get("tracking", {})
        return bool(tracking.get(table, False))

    def enable_tracking(self, table: str) -> None:
        state = self._load()
        state.setdefault("tracking", {})[table] = True
        self._save(state)

    # -- alternate keys ---------------------------------------------------------------------------------

    def keys(self, table: str) -> list[Key]:
        """The table's keys, their index status brought up to date."""
        state = self._load()
        entries = state.get("keys", {}).get(table, [])
        keys = [Key(**e) for e in entries]
        changed = False
        for key in keys:
            if key.status == "Pending" and self.clock() - key.created_at >= self.activation_s:
                key.status = "Active" if self._index(key) else "Failed"
                changed = True
        if changed:
            state["keys"][table] = [asdict(k) for k in keys]
            self._save(state)
        return keys

    def active_keys(self, table: str) -> list[tuple[str, ...]]:
        return [tuple(k.attributes) for k in self.keys(table) if k.status == "Active"]

    def create_key(self, table: str, schema_name: str, attributes: list[str]) -> Key:
        state = self._load()
        existing = state.setdefault("keys", {}).setdefault(table, [])
        key = Key(table, schema_name, attributes, key_id(table, schema_name), self.clock())
        existing.append(asdict(key))
        self._save(state)
        return key

    def delete_key(self, table: str, metadata_id: str) -> bool:
        state = self._load()
        entries = state.get("keys", {}).get(table, [])
        kept = [e for e in entries if str(e["metadata_id"]).lower() != metadata_id.lower()]
        if len(kept) == len(entries):
            return False
        state["keys"][table] = kept
        self._save(state)
        self.db.conn.execute(f"DROP INDEX IF EXISTS {quote_ident(_index_name(table, metadata_id))}")
        return True

    def _index(self, key: Key) -> bool:
        """Build the key's unique index; False when the column's values are not unique."""
        table = _table_of(key.table)
        cols = ", ".join(quote_ident(c) for c in key.attributes)
        try:
            with self.db.transaction():
                self.db.conn.execute(
                    f"CREATE UNIQUE INDEX IF NOT EXISTS {quote_ident(_index_name(key.table, key.metadata_id))} "
                    f"ON {quote_ident(table)} ({cols})"
                )
        except sqlite3.IntegrityError:
            return False
        return True


def _index_name(table: str, metadata_id: str) -> str:
    return f"ak_{table}_{metadata_id.replace('-', '')}"


def _table_of(logical: str) -> str:
    from p2c.sandbox.crm.entities import BY_LOGICAL

    return BY_LOGICAL[logical].table
